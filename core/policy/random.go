package policy

import (
	"hash/fnv"
	"strconv"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// random scores each (pod, node) pair by a seeded hash, which is a uniform
// random choice that stays reproducible when nodes are scored in parallel.
// Its device is likewise a hashed pick among those that fit.
type random struct{ seed int64 }

func (random) Normalization() Normalization { return Clamp }

func (r random) hash(parts ...string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(r.seed, 10)))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return avalanche(h.Sum64())
}

// avalanche mixes every input bit into every output bit (the splitmix64
// finaliser). FNV-1a alone ends in (h ^ lastByte) * prime, so names that
// differ only in their last byte (node-a, node-b, ...) hash to correlated
// values and a modulo keeps the correlation: some nodes won far more often
// than others.
func avalanche(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}

func (r random) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	choose := func(_ *state.NodeState, part share.Part, cands []state.Cand, _ []int) []int {
		h := r.hash(req.Pod, n.Name, part.Container)
		start := int(h % uint64(len(cands)))
		out := make([]int, part.Count)
		for i := range out {
			out[i] = (start + i) % len(cands)
		}
		return out
	}
	alloc, _, ok := state.Place(n, req, choose)
	if !ok {
		return alloc, 0, false
	}
	return alloc, int64(r.hash(req.Pod, n.Name) % (MaxScore + 1)), true
}
