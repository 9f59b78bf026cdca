package policy

import (
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/state"
)

// milliPerUnit converts device units (percent) to the milli-device units
// the FGD paper and its reference simulator count fragments in.
const milliPerUnit = 1000 / device.UnitsPerDevice

// Fragment classes of one shape on one node, in the order the reference
// simulator keeps them (its q1 lack-both, q2 lack-device, q3 satisfied,
// q4 lack-CPU, xl/xr for shapes of no device, no-access).
const (
	classLackBoth = iota
	classLackDevice
	classSatisfied
	classLackCPU
	classNoDeviceCPUFits
	classNoDeviceCPULacks
	classNoAccess
	numClasses
)

// Fragmentation returns F_n(M), the expected device units on n that a
// request drawn from w could not use (FGD §3): for each shape, every free
// unit counts as fragment when the shape asks for no device, may not use
// the node's model, or does not fit on the node at all; otherwise the free
// units of devices too small to take one piece of the shape count. free is
// the units free per device (index into n.Devices) and cpuFree the host CPU
// left; memory is not considered, as in the paper.
func Fragmentation(n *state.NodeState, free []int, cpuFree int64, w Workload) float64 {
	return fragmentMilli(n, free, cpuFree, w) / milliPerUnit
}

// fragmentMilli is Fragmentation in milli-device units, added up the way
// the reference simulator adds it: each shape's weighted amount goes into
// its fragment class, shapes in workload order, and the classes other than
// "satisfied" are summed in class order. Floating-point addition is not
// associative, and FGD's integer score rounds down at exactly 50 when a
// placement leaves the fragmentation unchanged, so the order decides a
// score whenever a placement's effects cancel out.
func fragmentMilli(n *state.NodeState, free []int, cpuFree int64, w Workload) float64 {
	return fragmentMilliCounting(n, free, cpuFree, w, nil)
}

// residueFunc says how many of the free units of device i (an index into
// the node's Devices), too few for a shape, count as lost (nil: all of
// them, as FGD counts).
type residueFunc func(i, free int) float64

// fragmentMilliCounting is fragmentMilli with the too-small devices of an
// allowed model counted by residue. With a residue that returns free it
// is fragmentMilli, bit for bit.
func fragmentMilliCounting(n *state.NodeState, free []int, cpuFree int64, w Workload, residue residueFunc) float64 {
	var classes [numClasses]float64
	for _, s := range w {
		total, small, class := shapeFragment(n, free, cpuFree, s)
		if class == classSatisfied {
			lost := float64(small)
			if residue != nil {
				lost = tooSmall(n, free, s, residue)
			}
			classes[classLackDevice] += s.Weight * (lost * milliPerUnit)
			continue
		}
		classes[class] += s.Weight * float64(total*milliPerUnit)
	}
	var f float64
	for c, v := range classes {
		if c != classSatisfied {
			f += v
		}
	}
	return f
}

// shapeFragment classifies shape s on n and returns the units free on the
// devices s could use at all (every kind for a shape of no device) and, for
// a satisfied shape, those of them too small for one piece of it.
func shapeFragment(n *state.NodeState, free []int, cpuFree int64, s Shape) (total, small, class int) {
	kind := s.kind()
	fits, eligible := 0, 0
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
	cpuFits := cpuFree >= s.CPUMilli
	switch {
	case s.Count == 0 && cpuFits:
		return total, 0, classNoDeviceCPUFits
	case s.Count == 0:
		return total, 0, classNoDeviceCPULacks
	case eligible == 0:
		return total, 0, classNoAccess
	case fits >= s.Count && cpuFits:
		return total, small, classSatisfied
	case fits >= s.Count:
		return total, 0, classLackCPU
	case cpuFits:
		return total, 0, classLackDevice
	default:
		return total, 0, classLackBoth
	}
}

// tooSmall adds up what residue counts of the devices of s's kind too small
// for one piece of s, and the free units of those of a model s may not use.
func tooSmall(n *state.NodeState, free []int, s Shape, residue residueFunc) float64 {
	var lost float64
	kind := s.kind()
	for i := range n.Devices {
		d := &n.Devices[i]
		switch {
		case d.Kind != kind:
		case !s.allows(d.Model):
			lost += float64(free[i])
		case free[i] < s.Units:
			lost += residue(i, free[i])
		}
	}
	return lost
}

// NodeFragmentation is Fragmentation of n as it stands.
func NodeFragmentation(n *state.NodeState, w Workload) float64 {
	return Fragmentation(n, n.FreeVector(), n.CPUFreeMilli, w)
}
