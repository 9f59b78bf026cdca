package policy

import (
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// spread prefers the emptiest node and, on it, the emptiest device: the
// choice for latency-sensitive shares that should not contend.
type spread struct{}

func (spread) Normalization() Normalization { return Clamp }

func (spread) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	alloc, _, ok := state.Place(n, req, mostFreeDevices)
	if !ok {
		return alloc, 0, false
	}
	return alloc, MaxScore - utilizationAfter(n, req, alloc), true
}
