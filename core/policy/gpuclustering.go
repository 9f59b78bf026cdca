package policy

import (
	"fmt"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// gpuClustering (FGD paper's GPU-clustering) keeps requests of one type
// together: a node hosting only this type scores 75..100, this type among
// others 50..75, no device work at all 25..50, only other types 0..25; within
// a band, fuller nodes score higher (by at most 24, so bands never overlap). Types are "share" and "k devices".
// Requests of no device score 0. Best-fit device.
type gpuClustering struct{}

func (gpuClustering) Normalization() Normalization { return Clamp }

func requestType(units, count int) string {
	if count == 1 && units < device.UnitsPerDevice {
		return "share"
	}
	return fmt.Sprintf("%dx", count)
}

func (gpuClustering) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	alloc, _, ok := state.Place(n, req, bestFitDevices)
	if !ok || req.Empty() {
		return alloc, 0, ok
	}
	mine := requestType(req.Parts[0].Units, req.Parts[0].Count)
	same, other := false, false
	for _, key := range n.PodKeys() {
		h, _ := n.Holding(key)
		for _, c := range h.Allocation.Containers {
			if requestType(c.Devices[0].Units, len(c.Devices)) == mine {
				same = true
			} else {
				other = true
			}
		}
	}
	var band int64
	switch {
	case same && !other:
		band = 75
	case same:
		band = 50
	case !other:
		band = 25
	default:
		band = 0
	}
	// The paper's nodes have at most 8 devices; on a bigger node the fill
	// term would go negative and leave its band, so it is kept within it.
	fill := min(max(25*(refUnits-freeUnits(n))/refUnits, 0), 24)
	return alloc, band + int64(fill), true
}
