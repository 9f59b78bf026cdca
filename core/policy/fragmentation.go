package policy

import (
	"github.com/gantry-dev/gantry/core/state"
)

// Fragmentation returns F_n(M), the expected device units on n that a
// request drawn from w could not use (FGD §3): for each shape, every free
// unit counts as fragment when the shape asks for no device, may not use
// the node's model, or does not fit on the node at all; otherwise the free
// units of devices too small to take one piece of the shape count. free is
// the units free per device (index into n.Devices) and cpuFree the host CPU
// left; memory is not considered, as in the paper.
func Fragmentation(n *state.NodeState, free []int, cpuFree int64, w Workload) float64 {
	var f float64
	for _, s := range w {
		f += s.Weight * float64(shapeFragment(n, free, cpuFree, s))
	}
	return f
}

func shapeFragment(n *state.NodeState, free []int, cpuFree int64, s Shape) int {
	kind := s.kind()
	total, small, fits, eligible := 0, 0, 0, 0
	for i := range n.Devices {
		d := &n.Devices[i]
		if s.Count == 0 {
			total += free[i]
			continue
		}
		if d.Kind != kind {
			continue
		}
		total += free[i]
		if !s.allows(d.Model) {
			small += free[i]
			continue
		}
		eligible++
		if free[i] >= s.Units {
			fits++
		} else {
			small += free[i]
		}
	}
	if s.Count == 0 || eligible == 0 || fits < s.Count || cpuFree < s.CPUMilli {
		return total
	}
	return small
}

// NodeFragmentation is Fragmentation of n as it stands.
func NodeFragmentation(n *state.NodeState, w Workload) float64 {
	return Fragmentation(n, n.FreeVector(), n.CPUFreeMilli, w)
}
