package dra

import (
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// DeviceOrder ranks n's devices for req the way s chooses them: first the
// devices s picks for req, then those it would pick if they were gone, and so
// on while req still fits; every other device follows in index order. The
// result holds each index into n.Devices once.
//
// A first-fit allocator that walks a node's devices in this order (and skips
// the ones a claim's selectors or capacity rule out) takes the device s
// chooses, or s's next choice among those the claim allows. For a pod with
// one share request that is exactly s's device-level decision; for several
// requests each takes the first ranked device it fits.
func DeviceOrder(n *state.NodeState, req *share.Request, s policy.Strategy) []int {
	order := make([]int, 0, len(n.Devices))
	if !req.Empty() && s != nil {
		work := n
		for len(order) < len(n.Devices) {
			alloc, _, ok := s.Score(work, req)
			if !ok {
				break
			}
			took := 0
			for _, c := range alloc.Containers {
				for _, d := range c.Devices {
					i := n.DeviceIndex(d.ID)
					if i < 0 || contains(order, i) {
						continue
					}
					order = append(order, i)
					took++
				}
			}
			if took == 0 {
				break
			}
			// Take the ranked devices out of the running: a device that
			// is not healthy offers nothing.
			if work == n {
				work = n.Clone()
			}
			for _, i := range order {
				work.SetHealth(work.Devices[i].ID, device.Unhealthy)
			}
		}
	}
	for i := range n.Devices {
		if !contains(order, i) {
			order = append(order, i)
		}
	}
	return order
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
