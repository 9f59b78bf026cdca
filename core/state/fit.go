package state

import (
	"fmt"
	"strings"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// Code classifies why a request does not fit a node.
type Code string

const (
	// NoDevices: the node has no device of the kind asked for.
	NoDevices Code = "NoDevices"
	// ModelMismatch: the node has devices of the kind, none of an allowed model.
	ModelMismatch Code = "ModelMismatch"
	// TooFewDevices: the node has fewer devices of an allowed model than asked.
	TooFewDevices Code = "TooFewDevices"
	// InsufficientShare: the devices exist but not enough of them have room.
	InsufficientShare Code = "InsufficientShare"
	// ReplicaOnDevice: the devices with room already hold a replica of the
	// same workload, and the pod does not allow sharing with one.
	ReplicaOnDevice Code = "ReplicaOnDevice"
)

// Reason says why a request does not fit a node. Its message is formatted
// only when asked for, because simulations reject millions of nodes.
type Reason struct {
	Code      Code
	Kind      device.Kind
	Container string
	Models    []string
	// Asked is the count of devices (or units for a share) asked; Have is
	// what the node offers of it.
	Asked, Have int
	Units       int
	// Unresolvable is true when no change on this node short of new
	// hardware could make the request fit, so preemption would not help.
	Unresolvable bool
}

// Message is a human-readable, specific reason.
func (r Reason) Message() string {
	kind := strings.ToUpper(string(r.Kind))
	models := ""
	if len(r.Models) > 0 {
		models = " of model " + strings.Join(r.Models, "|")
	}
	switch r.Code {
	case NoDevices:
		return fmt.Sprintf("node has no %s", kind)
	case ModelMismatch:
		return fmt.Sprintf("node has no %s%s", kind, models)
	case TooFewDevices:
		return fmt.Sprintf("node has %d %s%s, container %q asks for %d", r.Have, kind, models, r.Container, r.Asked)
	case ReplicaOnDevice:
		return fmt.Sprintf("every %s%s with %d%% free already holds a replica of the same workload", kind, models, r.Units)
	default:
		if r.Units == device.UnitsPerDevice {
			return fmt.Sprintf("%d of %d whole %s%s free, container %q asks for %d", r.Have, r.Asked, kind, models, r.Container, r.Asked)
		}
		return fmt.Sprintf("no %s%s has %d%% free (most free: %d%%)", kind, models, r.Units, r.Have)
	}
}

// Cand is a device that can take (part of) a request, as a chooser sees it.
type Cand struct {
	// Index into NodeState.Devices.
	Index int
	// Free is the units free before this part is placed.
	Free      int
	Holders   int
	NUMANode  int
	LinkGroup string
}

// Chooser picks part.Count devices out of cands (len(cands) >= part.Count)
// and returns their positions in cands. free holds the units free on every
// device of n (by index into n.Devices) once earlier parts of the request
// are placed. Policies supply choosers; the one rule is that a chooser picks
// exactly part.Count distinct candidates.
type Chooser func(n *NodeState, part share.Part, cands []Cand, free []int) []int

// Fit reports whether req can be placed on n and, when it cannot, why. Host
// CPU and memory are not checked here: kube-scheduler's NodeResourcesFit
// owns them. Fit is Place with any chooser that takes the first candidates.
func Fit(n *NodeState, req *share.Request) (Reason, bool) {
	_, r, ok := Place(n, req, First)
	return r, ok
}

// First picks the lowest-index candidates.
func First(_ *NodeState, part share.Part, _ []Cand, _ []int) []int {
	out := make([]int, part.Count)
	for i := range out {
		out[i] = i
	}
	return out
}

// Place puts every part of req on n's devices, largest part first, letting
// choose pick among the devices that fit each part. It returns the resulting
// allocation without changing n.
func Place(n *NodeState, req *share.Request, choose Chooser) (contract.Allocation, Reason, bool) {
	alloc := contract.Allocation{Node: n.Name}
	free := n.FreeVector()
	for _, part := range req.Parts {
		cands, reason, ok := candidates(n, req, part, free)
		if !ok {
			return contract.Allocation{}, reason, false
		}
		picks := choose(n, part, cands, free)
		ca := contract.ContainerAllocation{Container: part.Container, Kind: part.Kind, Devices: make([]contract.DeviceShare, 0, len(picks))}
		for _, p := range picks {
			i := cands[p].Index
			d := &n.Devices[i]
			ca.Devices = append(ca.Devices, contract.DeviceShare{ID: d.ID, Index: d.Index, Units: part.Units})
			free[i] -= part.Units
		}
		alloc.Containers = append(alloc.Containers, ca)
	}
	return alloc, Reason{}, true
}

func candidates(n *NodeState, req *share.Request, part share.Part, free []int) ([]Cand, Reason, bool) {
	var ofKind, allowed, healthy, roomy, mostFree int
	cands := make([]Cand, 0, len(n.Devices))
	for i := range n.Devices {
		d := &n.Devices[i]
		if d.Kind != part.Kind {
			continue
		}
		ofKind++
		if !req.Allows(part.Kind, d.Model) {
			continue
		}
		allowed++
		if !d.Healthy() {
			continue
		}
		healthy++
		if free[i] > mostFree {
			mostFree = free[i]
		}
		if free[i] < part.Units {
			continue
		}
		roomy++
		if !req.AllowSharedDevice && d.HoldsWorkload(req.Workload) {
			continue
		}
		cands = append(cands, Cand{Index: i, Free: free[i], Holders: d.Holders, NUMANode: d.NUMANode, LinkGroup: d.LinkGroup})
	}
	if len(cands) >= part.Count {
		return cands, Reason{}, true
	}
	r := Reason{Kind: part.Kind, Container: part.Container, Models: req.Models[part.Kind], Asked: part.Count, Units: part.Units}
	switch {
	case ofKind == 0:
		r.Code, r.Unresolvable = NoDevices, true
	case allowed == 0:
		r.Code, r.Unresolvable = ModelMismatch, true
	case allowed < part.Count:
		r.Code, r.Have, r.Unresolvable = TooFewDevices, allowed, true
	case roomy >= part.Count:
		r.Code, r.Have = ReplicaOnDevice, len(cands)
	case part.Whole():
		r.Code, r.Have = InsufficientShare, roomy
	default:
		r.Code, r.Have = InsufficientShare, mostFree
	}
	return nil, r, false
}
