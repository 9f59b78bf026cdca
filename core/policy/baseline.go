package policy

import (
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// The FGD paper's baselines normalise host CPU by a 128-core node and
// device units by an 8-device node.
const (
	refCPUMilli = 128000
	refUnits    = 8 * device.UnitsPerDevice
)

// freeUnits returns the units free over healthy devices of every kind.
func freeUnits(n *state.NodeState) int {
	s := 0
	for i := range n.Devices {
		s += n.Devices[i].Free()
	}
	return s
}

// totalUnits is what req asks for across kinds.
func totalUnits(req *share.Request) int {
	s := 0
	for _, p := range req.Parts {
		s += p.Total()
	}
	return s
}

// cpuFree returns the host CPU left, treating untracked CPU as a full
// reference node.
func cpuFree(n *state.NodeState) int64 {
	if n.CPUFreeMilli == state.Unlimited {
		return refCPUMilli
	}
	return n.CPUFreeMilli
}
