package policy

import (
	"hash/fnv"
	"strconv"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// random places a request on one feasible node drawn uniformly at random,
// reproducibly for a seed: each (pod, node) pair gets an independent 63-bit
// hash of (seed, pod, node) as its raw score and Pick gives the top score to
// the node with the highest one. The maximum of independent uniform draws
// is equally likely to be any of them, so every feasible node is chosen
// with the same probability, whatever order the nodes are scored in and
// whether they are scored in parallel (the reference's Random draws
// rand.Intn over its feasible list instead, whose order is not
// reproducible). On the node, a share goes to a device drawn uniformly among
// those that fit, as the reference does; whole devices take the lowest free
// indices, as the reference's exclusive allocation does.
type random struct{ seed int64 }

func (random) Normalization() Normalization { return Pick }

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
// values; mixed, they are independent for all practical purposes.
func avalanche(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}

func (r random) Score(n *state.NodeState, req *share.Request) (contract.Allocation, int64, bool) {
	choose := func(n *state.NodeState, part share.Part, cands []state.Cand, free []int) []int {
		if part.Count > 1 || part.Units == device.UnitsPerDevice {
			return state.First(n, part, cands, free)
		}
		return []int{int(r.hash(req.Pod, n.Name, part.Container) % uint64(len(cands)))}
	}
	alloc, _, ok := state.Place(n, req, choose)
	if !ok {
		return alloc, 0, false
	}
	return alloc, int64(r.hash(req.Pod, n.Name) >> 1), true
}
