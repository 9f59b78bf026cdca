package policy

import (
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// binpack prefers the node whose devices end up fullest, and on it the
// device with the least room that still fits, so whole cards stay free for
// whole-card work.
type binpack struct{}

func (binpack) Normalization() Normalization { return Clamp }

func (binpack) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	alloc, _, ok := state.Place(n, req, bestFitDevices)
	if !ok {
		return alloc, 0, false
	}
	return alloc, utilizationAfter(n, req, alloc), true
}

// utilizationAfter returns the share (0..MaxScore) of the node's healthy
// device units of the kinds req asks for that are in use once alloc is
// placed. A request for no device scores by device utilisation as it
// stands. Units held on unhealthy devices count neither as used nor as
// capacity.
func utilizationAfter(n *state.NodeState, req *share.Request, _ contract.Allocation) int64 {
	used, capacity := 0, 0
	for _, k := range device.Kinds {
		if req.Total(k) == 0 && !req.Empty() {
			continue
		}
		used += n.Capacity(k) - n.Free(k) + req.Total(k)
		capacity += n.Capacity(k)
	}
	if capacity == 0 {
		return 0
	}
	return int64(used * MaxScore / capacity)
}
