package policy

import (
	"fmt"
	"math"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// fgd is Fragmentation Gradient Descent (Weng et al., USENIX ATC '23): place
// the request where the node's expected fragmentation against the workload
// grows least. The score is floor(100·sigmoid(-Δ/1000)) with Δ the change of
// F_n(M) in milli-device units, as the paper's simulator computes it.
//
// Every request is scored by its effect, a pod that asks for no device
// included: its host CPU can leave the node unable to host device shapes
// that need that CPU, which the definition counts (only c_n changes; the
// reference simulator gives the top score only to a pod that requests
// nothing at all). On a node, a share goes to the lowest-index device with
// the best score; whole devices go to the lowest free indices.
type fgd struct {
	w Workload
}

func newFGD(o Options) (Strategy, error) {
	if err := o.Workload.Validate(); err != nil {
		return nil, fmt.Errorf("FGD needs a workload distribution: %w", err)
	}
	w := o.Workload
	if !w.normalized() {
		w = w.Normalized()
	}
	return fgd{w: w}, nil
}

func (fgd) Normalization() Normalization { return Clamp }

func (f fgd) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	return scoreByFragmentation(n, req, func(free []int, cpuFree int64) float64 {
		return fragmentMilli(n, free, cpuFree, f.w)
	})
}

// scoreByFragmentation is FGD's placement and score for req on n over a
// fragment measure frag (milli-device units of n's free vector and host
// CPU): a share goes to the lowest-index device whose placement scores
// best, whole devices to the lowest free indices, and the score is the
// paper's integer sigmoid of the change. FGD and LookaheadFGD differ only
// in frag.
func scoreByFragmentation(n *state.NodeState, req *share.Request, frag func(free []int, cpuFree int64) float64) (contract.Allocation, int64, bool) {
	before := frag(n.FreeVector(), n.CPUFreeMilli)
	cpuAfter := n.CPUFreeMilli
	if cpuAfter != state.Unlimited {
		cpuAfter -= req.CPUMilli
	}
	choose := func(n *state.NodeState, part share.Part, cands []state.Cand, free []int) []int {
		if part.Count > 1 || part.Units == device.UnitsPerDevice {
			return state.First(n, part, cands, free)
		}
		pick, bestScore := 0, int64(-1)
		for p, c := range cands {
			free[c.Index] -= part.Units
			s := fgdScore(before, frag(free, cpuAfter))
			free[c.Index] += part.Units
			if s > bestScore {
				pick, bestScore = p, s
			}
		}
		return []int{pick}
	}
	alloc, _, ok := state.Place(n, req, choose)
	if !ok {
		return alloc, 0, false
	}
	free := n.FreeVector()
	for _, c := range alloc.Containers {
		for _, d := range c.Devices {
			free[indexOf(n, d.ID)] -= d.Units
		}
	}
	return alloc, fgdScore(before, frag(free, cpuAfter)), true
}

// fgdScore is the paper's integer score of a placement that takes the
// node's fragmentation from before to after (milli-device units):
// int(100·sigmoid((before-after)/1000)), evaluated in the reference's
// order of operations so that it rounds as the reference does when the
// change is a rounding error away from zero.
func fgdScore(before, after float64) int64 {
	sigmoid := 1 / (1 + math.Exp(-(before-after)/1000))
	return int64(sigmoid * MaxScore)
}

func indexOf(n *state.NodeState, id string) int {
	if i := n.DeviceIndex(id); i >= 0 {
		return i
	}
	panic("policy: allocation names a device the node does not have: " + id)
}
