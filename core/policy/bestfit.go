package policy

import (
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// bestFit prefers the node left with the least CPU and device room, each
// weighted one half (FGD paper's Best-fit), min-max normalised; on the node
// it takes the best-fit device.
type bestFit struct{}

func (bestFit) Normalization() Normalization { return MinMax }

func (bestFit) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	alloc, _, ok := state.Place(n, req, bestFitDevices)
	if !ok {
		return alloc, 0, false
	}
	s := 0.5*float64(cpuFree(n)-req.CPUMilli)/refCPUMilli + 0.5*float64(freeUnits(n)-totalUnits(req))/refUnits
	return alloc, int64(100 * (1 - s)), true
}
