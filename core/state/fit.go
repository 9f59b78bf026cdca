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
	// IsolationMismatch: the node has devices of an allowed model, too few
	// of them with the isolation the pod requires.
	IsolationMismatch Code = "IsolationMismatch"
)

// Reason says why a request does not fit a node. Its message is formatted
// only when asked for, because simulations reject millions of nodes.
type Reason struct {
	Code Code
	Kind device.Kind
	// Container is the container whose part does not fit, or "" when the
	// pod's parts of Kind fit one by one but not all together.
	Container string
	Models    []string
	// Asked is the count of devices asked (TooFewDevices, and
	// InsufficientShare for whole devices); Have is what the node offers of
	// it. For a share, Have is the most units free on one device. When
	// Container is "", Asked and Have are devices needed and devices there
	// for TooFewDevices, else units asked and units free over the devices
	// the pod may use.
	Asked, Have int
	// Units is the share asked of each device.
	Units int
	// Isolation is the level the pod requires (IsolationMismatch).
	Isolation device.Isolation
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
	if r.Container == "" {
		switch r.Code {
		case NoDevices, ModelMismatch:
		case TooFewDevices:
			return fmt.Sprintf("node has %d %s%s, the pod's containers need %d together", r.Have, kind, models, r.Asked)
		case ReplicaOnDevice:
			return fmt.Sprintf("the pod's containers fit together only by sharing a %s%s with a replica of the same workload", kind, models)
		default:
			return fmt.Sprintf("the free %s%s cannot hold all of the pod's containers at once (%d%% asked in all, %d%% free)", kind, models, r.Asked, r.Have)
		}
	}
	switch r.Code {
	case NoDevices:
		return fmt.Sprintf("node has no %s", kind)
	case IsolationMismatch:
		return fmt.Sprintf("node has %d %s%s with isolation %s, container %q asks for %d (the pod requires %s: %s)",
			r.Have, kind, models, r.Isolation, r.Container, r.Asked, contract.AnnotationIsolation, r.Isolation)
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
// owns them. Fit is Place with the chooser First; since Place falls back to
// an exact search, every chooser places req exactly where Fit says it fits.
func Fit(n *NodeState, req *share.Request) (Reason, bool) {
	if !req.Empty() && len(req.Parts) == 1 {
		// The common case decides without allocating: schedulers call Fit
		// for every node in every cycle.
		_, r, ok := scan(n, req, req.Parts[0], nil, false)
		return r, ok
	}
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
// choose pick among the devices that fit each part. Parts of one kind that
// the chooser's picks leave no room for are placed by an exact search
// instead, so Place fails only when no placement of req exists (or the
// search gives up, which takes far more parts than pods have containers).
// It returns the resulting allocation without changing n. A chooser that
// breaks its contract is a programming error and panics.
func Place(n *NodeState, req *share.Request, choose Chooser) (contract.Allocation, Reason, bool) {
	alloc := contract.Allocation{Node: n.Name}
	if req.Empty() {
		return alloc, Reason{}, true
	}
	free := n.FreeVector()
	picked := make([][]int, len(req.Parts))
	var failed *Reason
	for _, k := range req.Kinds() {
		var parts []int
		for i, p := range req.Parts {
			if p.Kind == k {
				parts = append(parts, i)
			}
		}
		if r, ok := placeKind(n, req, parts, choose, free, picked); !ok {
			// Kinds use disjoint devices: look on for a reason that no
			// preemption could help with, as it is the one that counts.
			if failed == nil || (r.Unresolvable && !failed.Unresolvable) {
				failed = &r
			}
		}
	}
	if failed != nil {
		return contract.Allocation{}, *failed, false
	}
	alloc.Containers = make([]contract.ContainerAllocation, len(req.Parts))
	for i, part := range req.Parts {
		ca := contract.ContainerAllocation{Container: part.Container, Kind: part.Kind, Devices: make([]contract.DeviceShare, len(picked[i]))}
		for j, di := range picked[i] {
			d := &n.Devices[di]
			ca.Devices[j] = contract.DeviceShare{ID: d.ID, Index: d.Index, Units: part.Units}
		}
		alloc.Containers[i] = ca
	}
	return alloc, Reason{}, true
}

// placeKind places the parts (indices into req.Parts) of one kind, greedily
// with choose, and exactly when the greedy picks strand a later part.
func placeKind(n *NodeState, req *share.Request, parts []int, choose Chooser, free []int, picked [][]int) (Reason, bool) {
	var saved []int
	if len(parts) > 1 {
		saved = append(saved, free...)
	}
	for _, pi := range parts {
		part := req.Parts[pi]
		cands, r, ok := candidates(n, req, part, free)
		if !ok {
			if len(parts) == 1 {
				return r, false
			}
			copy(free, saved)
			// A part that can never fit alone is the reason; then a pod
			// whose parts can never fit together; then a part that does not
			// fit alone now. Otherwise the parts fit one by one and only the
			// greedy picks may be at fault.
			_, alone, fits := candidates(n, req, part, free)
			if !fits && alone.Unresolvable {
				return alone, false
			}
			if r, never := neverTogether(n, req, parts); never {
				return r, false
			}
			if !fits {
				return alone, false
			}
			return packKind(n, req, parts, free, picked, r)
		}
		picks := choose(n, part, cands, free)
		checkPicks(picks, part, cands)
		idx := make([]int, len(picks))
		for j, p := range picks {
			idx[j] = cands[p].Index
			free[idx[j]] -= part.Units
		}
		picked[pi] = idx
	}
	return Reason{}, true
}

func checkPicks(picks []int, part share.Part, cands []Cand) {
	if len(picks) != part.Count {
		panic(fmt.Sprintf("state: chooser picked %d devices for container %q, which asks for %d", len(picks), part.Container, part.Count))
	}
	for j, p := range picks {
		if p < 0 || p >= len(cands) {
			panic(fmt.Sprintf("state: chooser picked candidate %d of %d", p, len(cands)))
		}
		for _, q := range picks[:j] {
			if p == q {
				panic(fmt.Sprintf("state: chooser picked candidate %d twice", p))
			}
		}
	}
}
func candidates(n *NodeState, req *share.Request, part share.Part, free []int) ([]Cand, Reason, bool) {
	return scan(n, req, part, free, true)
}

// scan finds the devices that can take part. free holds the units free per
// device, or is nil for the node as it stands; collect says whether to
// return the candidates or only whether there are enough.
func scan(n *NodeState, req *share.Request, part share.Part, free []int, collect bool) ([]Cand, Reason, bool) {
	var ofKind, modelOK, allowed, healthy, roomy, mostFree, found int
	var cands []Cand
	if collect {
		cands = make([]Cand, 0, len(n.Devices))
	}
	for i := range n.Devices {
		d := &n.Devices[i]
		if d.Kind != part.Kind {
			continue
		}
		ofKind++
		if !req.Allows(part.Kind, d.Model) {
			continue
		}
		modelOK++
		if !d.Level().Satisfies(req.Isolation) {
			continue
		}
		allowed++
		if !d.Healthy() {
			continue
		}
		healthy++
		f := d.Free()
		if free != nil {
			f = free[i]
		}
		if f > mostFree {
			mostFree = f
		}
		if f < part.Units {
			continue
		}
		roomy++
		if !req.AllowSharedDevice && d.HoldsWorkload(req.Workload) {
			continue
		}
		found++
		if collect {
			cands = append(cands, Cand{Index: i, Free: f, Holders: d.Holders, NUMANode: d.NUMANode, LinkGroup: d.LinkGroup})
		}
	}
	if found >= part.Count {
		return cands, Reason{}, true
	}
	r := Reason{Kind: part.Kind, Container: part.Container, Models: req.Models[part.Kind], Asked: part.Count, Units: part.Units}
	switch {
	case ofKind == 0:
		r.Code, r.Unresolvable = NoDevices, true
	case modelOK == 0:
		r.Code, r.Unresolvable = ModelMismatch, true
	case allowed < part.Count && modelOK >= part.Count:
		r.Code, r.Have, r.Isolation, r.Unresolvable = IsolationMismatch, allowed, req.Isolation, true
	case allowed < part.Count:
		r.Code, r.Have, r.Unresolvable = TooFewDevices, allowed, true
	case roomy >= part.Count:
		r.Code, r.Have = ReplicaOnDevice, found
	case part.Whole():
		r.Code, r.Have = InsufficientShare, roomy
	default:
		r.Code, r.Have = InsufficientShare, mostFree
	}
	return nil, r, false
}
