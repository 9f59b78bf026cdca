package policy

import (
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// dotProduct is the Tetris-style alignment score of the FGD paper: the dot
// product of the node's free (CPU, device) vector and the request's, both
// scaled by a reference node; the smaller product wins. Best-fit device.
type dotProduct struct{}

func (dotProduct) Normalization() Normalization { return Clamp }

func (dotProduct) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	alloc, _, ok := state.Place(n, req, bestFitDevices)
	if !ok {
		return alloc, 0, false
	}
	dot := float64(cpuFree(n))/refCPUMilli*float64(req.CPUMilli)/refCPUMilli +
		float64(freeUnits(n))/refUnits*float64(totalUnits(req))/refUnits
	return alloc, int64(100 * (1 - dot/2)), true
}
