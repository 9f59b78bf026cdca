package policy

import (
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// gpuPacking (FGD paper's GPU-packing) ranks nodes in three bands: a request
// that fits on devices already in use (50..100, fuller devices higher), one
// that needs free devices on a node already in use (33..50, fewer free
// devices taken higher), and an untouched node (below 33, bigger nodes
// lower). Requests of no device score 0. Best-fit device.
type gpuPacking struct{}

func (gpuPacking) Normalization() Normalization { return Clamp }

func (gpuPacking) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	alloc, _, ok := state.Place(n, req, bestFitDevices)
	if !ok || req.Empty() {
		return alloc, 0, ok
	}
	free := n.FreeVector()
	nodeUsed := false
	for i := range n.Devices {
		if n.Devices[i].Used > 0 {
			nodeUsed = true
		}
	}
	if !nodeUsed {
		return alloc, int64(max(33-len(n.Devices), 0)), true
	}
	freeDevicesTaken, freePercentChosen := 0, 0
	for _, c := range alloc.Containers {
		for _, d := range c.Devices {
			f := free[indexOf(n, d.ID)]
			if f == device.UnitsPerDevice {
				freeDevicesTaken++
			}
			freePercentChosen += f
		}
	}
	if freeDevicesTaken == 0 {
		return alloc, int64(max(100-freePercentChosen/10, 50)), true
	}
	return alloc, int64(max(50-freeDevicesTaken, 33)), true
}
