package policy

import (
	"sort"
	"strconv"

	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// bestFitDevices picks the candidates with the least room that still fit,
// lowest index first among equals. For several whole devices it first looks
// for one link group (then one NUMA node) that holds them all, the
// smallest such group, so that multi-device jobs get fast peers and big
// groups stay whole.
func bestFitDevices(_ *state.NodeState, part share.Part, cands []state.Cand, _ []int) []int {
	if part.Count > 1 {
		if picks := sameGroup(part.Count, cands, func(c state.Cand) string { return c.LinkGroup }); picks != nil {
			return picks
		}
		if picks := sameGroup(part.Count, cands, func(c state.Cand) string {
			if c.NUMANode < 0 {
				return ""
			}
			return strconv.Itoa(c.NUMANode)
		}); picks != nil {
			return picks
		}
	}
	return ranked(part.Count, cands, func(a, b state.Cand) bool { return a.Free < b.Free })
}

// mostFreeDevices picks the candidates with the most room.
func mostFreeDevices(_ *state.NodeState, part share.Part, cands []state.Cand, _ []int) []int {
	return ranked(part.Count, cands, func(a, b state.Cand) bool { return a.Free > b.Free })
}

// ranked returns the positions of the first n candidates under less, with
// the device index breaking ties.
func ranked(n int, cands []state.Cand, less func(a, b state.Cand) bool) []int {
	pos := make([]int, len(cands))
	for i := range pos {
		pos[i] = i
	}
	sort.SliceStable(pos, func(i, j int) bool {
		a, b := cands[pos[i]], cands[pos[j]]
		if less(a, b) {
			return true
		}
		if less(b, a) {
			return false
		}
		return a.Index < b.Index
	})
	return pos[:n]
}

// sameGroup returns n candidates sharing one non-empty group key, from the
// smallest group that has enough, or nil.
func sameGroup(n int, cands []state.Cand, key func(state.Cand) string) []int {
	groups := map[string][]int{}
	var order []string
	for i, c := range cands {
		k := key(c)
		if k == "" {
			continue
		}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	best := ""
	for _, k := range order {
		if len(groups[k]) >= n && (best == "" || len(groups[k]) < len(groups[best])) {
			best = k
		}
	}
	if best == "" {
		return nil
	}
	return groups[best][:n]
}
