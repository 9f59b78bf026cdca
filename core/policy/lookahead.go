package policy

import (
	"fmt"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// lookaheadFGD is Gantry's own policy, not the FGD paper's: FGD's score and
// device choice over a fragment measure that looks ahead at how the
// workload's shares will fill what a device has left.
//
// FGD counts the free units of a device too small for a shape as lost to
// that shape. On the Alibaba traces that charges every remainder in full,
// although most remainders are later filled by the smaller shares of the
// same workload: 53 units left beside a 47 % share are lost to a whole-GPU
// request, but the next 47 % or 32 % share will take most of them. Here a
// too-small device counts only its expected residue: residual(r), the units
// a remainder of r would still have free after shares drawn from the
// workload (in proportion to their weights, among those that fit what is
// left) have been put into it until none fits:
//
//	residual(0) = 0
//	residual(r) = r                                     if no share fits r
//	residual(r) = Σ_{s fits r} w_s·residual(r−u_s) / Σ_{s fits r} w_s   otherwise
//
// A remainder no share can use (a few units) therefore still counts in
// full, as in FGD, and one the workload fills well counts little. All else
// is FGD's (fgd.go): the fragment classes (a shape that cannot go on the
// node at all, for want of devices, host CPU or an allowed model, still
// finds every free unit lost), the integer score
// floor(100·sigmoid(-Δ/1000)), a share on the lowest-index device with the
// best score, whole devices on the lowest free indices. The rule has no
// parameter: the residue table is a function of the workload alone.
//
// Why it helps (bench/ours.md): with every remainder charged in full, FGD
// spends its score on remainders that will be filled anyway, and the
// placements that really lose devices weigh relatively less: those that
// leave a node without the host CPU, or the free devices, for a shape it
// could host before. In FGD's end state on the default trace (seed 42),
// 11 % of the unallocated GPU is on devices that a failed request could use
// but whose node has no CPU or memory left for it; with the look-ahead 3 %,
// and less such stranding on every trace family measured.
//
// The reference simulator of the paper logs a different recursion (its
// "Bellman" fragmentation, over whole nodes, where the first request that
// does not fit ends the process); it never decides with it.
type lookaheadFGD struct {
	w Workload
	// residual holds, per device kind and model, the expected residue of
	// every remainder 0..UnitsPerDevice; "" is for models no shape names.
	residual map[residueKey]*residueTable
}

type residueKey struct {
	kind  device.Kind
	model string
}

type residueTable [device.UnitsPerDevice + 1]float64

func newLookaheadFGD(o Options) (Strategy, error) {
	if err := o.Workload.Validate(); err != nil {
		return nil, fmt.Errorf("LookaheadFGD needs a workload distribution: %w", err)
	}
	w := o.Workload
	if !w.normalized() {
		w = w.Normalized()
	}
	l := lookaheadFGD{w: w, residual: map[residueKey]*residueTable{}}
	for _, s := range w {
		if s.Count == 0 {
			continue
		}
		keys := []residueKey{{kind: s.kind()}}
		for _, m := range s.Models {
			keys = append(keys, residueKey{kind: s.kind(), model: m})
		}
		for _, k := range keys {
			if l.residual[k] == nil {
				l.residual[k] = residues(w, k)
			}
		}
	}
	return l, nil
}

// residues is the residue table of devices of k's kind and model: the
// shares that may use such a device fill it (a shape of whole devices fills
// only a free one).
func residues(w Workload, k residueKey) *residueTable {
	var t residueTable
	for r := 1; r <= device.UnitsPerDevice; r++ {
		var sum, weight float64
		for _, s := range w {
			if s.Count == 0 || s.kind() != k.kind || s.Units > r {
				continue
			}
			if k.model == "" && len(s.Models) > 0 || k.model != "" && !s.allows(k.model) {
				continue
			}
			sum += s.Weight * t[r-s.Units]
			weight += s.Weight
		}
		if weight == 0 {
			t[r] = float64(r)
		} else {
			t[r] = sum / weight
		}
	}
	return &t
}

func (lookaheadFGD) Normalization() Normalization { return Clamp }

// tables returns the residue table of each of n's devices: that of its
// kind and model, else its kind's; nil for a kind no shape asks for.
func (l lookaheadFGD) tables(n *state.NodeState) []*residueTable {
	out := make([]*residueTable, len(n.Devices))
	for i := range n.Devices {
		d := &n.Devices[i]
		if out[i] = l.residual[residueKey{kind: d.Kind, model: d.Model}]; out[i] == nil {
			out[i] = l.residual[residueKey{kind: d.Kind}]
		}
	}
	return out
}

// residue counts a device's free units by its table (all of them when it
// has none).
func residue(tables []*residueTable) residueFunc {
	return func(i, free int) float64 {
		if t := tables[i]; t != nil {
			return t[free]
		}
		return float64(free)
	}
}

// fragmentMilli is FGD's F_n(M) (fragmentation.go) with each too-small
// device of an allowed model counting its expected residue, in milli-device
// units.
func (l lookaheadFGD) fragmentMilli(n *state.NodeState, free []int, cpuFree int64, r residueFunc) float64 {
	return fragmentMilliCounting(n, free, cpuFree, l.w, r)
}

func (l lookaheadFGD) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	r := residue(l.tables(n))
	return scoreByFragmentation(n, req, func(free []int, cpuFree int64) float64 {
		return l.fragmentMilli(n, free, cpuFree, r)
	})
}
