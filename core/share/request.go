package share

import (
	"sort"

	"github.com/gantry-dev/gantry/core/device"
)

// Part is the share one container asks for: Count devices of Kind with Units
// percent of each. A fractional share has Count 1 and Units below 100; whole
// devices have Units 100.
type Part struct {
	Container string
	Kind      device.Kind
	Count     int
	Units     int
}

// Total returns the units the part takes in all.
func (p Part) Total() int { return p.Count * p.Units }

// Whole reports whether the part asks for whole devices.
func (p Part) Whole() bool { return p.Units == device.UnitsPerDevice }

// Request is everything a pod asks of Gantry.
type Request struct {
	// Pod is the pod's namespace/name, for deterministic per-pod choices.
	Pod string
	// Parts holds one entry per container that asks for a device, sorted
	// largest first (the order Fit places them in).
	Parts []Part
	// Models restricts each kind to these models; a kind without an entry
	// accepts any model.
	Models map[device.Kind][]string
	// CPUMilli and MemoryMiB are the pod's host requests; FGD's
	// fragmentation measure and the trace baselines use them.
	CPUMilli  int64
	MemoryMiB int64
	// Workload groups replicas for zone spread; empty when the pod belongs
	// to none.
	Workload string
	// AllowSharedDevice lets replicas of Workload share a device.
	AllowSharedDevice bool
	// Isolation is the level every device given to the pod must enforce;
	// empty (or IsolationNone) accepts any device.
	Isolation device.Isolation
}

// Empty reports whether the pod asks for no device at all.
func (r *Request) Empty() bool { return r == nil || len(r.Parts) == 0 }

// Total returns the units asked for of kind k across all parts.
func (r *Request) Total(k device.Kind) int {
	n := 0
	for _, p := range r.Parts {
		if p.Kind == k {
			n += p.Total()
		}
	}
	return n
}

// Kinds returns the kinds the request asks for.
func (r *Request) Kinds() []device.Kind {
	var out []device.Kind
	for _, k := range device.Kinds {
		for _, p := range r.Parts {
			if p.Kind == k {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// AllowsDevice reports whether d may serve the request: its model is
// allowed and it enforces the isolation asked for.
func (r *Request) AllowsDevice(d *device.Device) bool {
	return r.Allows(d.Kind, d.Model) && d.Level().Satisfies(r.Isolation)
}

// Allows reports whether a device of kind k and the given model may serve
// the request (models only; see AllowsDevice).
func (r *Request) Allows(k device.Kind, model string) bool {
	models, ok := r.Models[k]
	if !ok || len(models) == 0 {
		return true
	}
	for _, m := range models {
		if m == model {
			return true
		}
	}
	return false
}

// SortParts orders parts largest first (whole devices before shares, then
// by units), container name breaking ties, so that placement is first-fit
// decreasing and deterministic.
func (r *Request) SortParts() {
	sort.SliceStable(r.Parts, func(i, j int) bool {
		a, b := r.Parts[i], r.Parts[j]
		if a.Total() != b.Total() {
			return a.Total() > b.Total()
		}
		if a.Units != b.Units {
			return a.Units > b.Units
		}
		return a.Container < b.Container
	})
}

// Simple returns a request for one container asking count devices of kind
// with units each. Tests, the simulator and the autoscaler use it.
func Simple(k device.Kind, count, units int) *Request {
	return &Request{Parts: []Part{{Container: "main", Kind: k, Count: count, Units: units}}}
}
