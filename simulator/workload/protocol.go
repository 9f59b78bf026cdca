package workload

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"

	"github.com/gantry-dev/gantry/simulator/trace"
)

// DefaultTuneRatio is the FGD protocol's inflation target: pods are re-sampled until the requested GPU
// reaches 130 % of the cluster's GPU capacity.
const DefaultTuneRatio = 1.3

// Protocol is one run's random source, used in the reference simulator's order: NewProtocol seeds it and
// draws one Int; Inflate shuffles and re-samples the pods; NodePrefixes then draws the nodes' name
// prefixes. Calling them in another order, or more than once, gives a valid but different run.
//
// The reference seeds Go's global math/rand source with rand.Seed(seed). Since Go 1.24 rand.Seed is a
// no-op, so Protocol uses its own rand.New(rand.NewSource(seed)): the same generator, so the same
// sequence (math/rand/v2 would not be). A Protocol is not safe for concurrent use.
type Protocol struct {
	rng *rand.Rand
}

// NewProtocol seeds a run's random source with seed and draws the one Int the reference draws right
// after seeding (an argument of a debug log line), so that later draws line up with it.
func NewProtocol(seed int64) *Protocol {
	p := &Protocol{rng: rand.New(rand.NewSource(seed))}
	p.rng.Int()
	return p
}

// Inflate returns the pods in the order a run submits them (fgd-anchor §5 steps 2-3):
//
//  1. the pods sorted by name, then shuffled (rand.Shuffle);
//  2. then, while the requested GPU stays within ratio * capacityGPUMilli, copies of pods drawn with
//     rand.Intn(len(pods)) from the NAME-SORTED list (not the shuffled one), named "<name>-tuned-<i>"
//     where i counts the copies appended so far from 0.
//
// "Requested GPU" starts as the sum of NumGPU*GPUMilli over all pods and grows by NumGPU*GPUMilli of
// each copy, but the check before appending a copy adds only its GPUMilli (its per-GPU share): the
// reference's quirk, kept so that runs match it. The first copy that fails the check is dropped and
// ends the loop. When the pods already ask for more than the target, the reference instead removes
// pods drawn with rand.Intn from the shuffled list until the demand fits; Inflate does the same.
//
// ratio <= 0, capacityGPUMilli <= 0, or pods that ask for no GPU at all only shuffle. pods is not
// modified; the result shares nothing with it.
func (p *Protocol) Inflate(pods []trace.Pod, ratio float64, capacityGPUMilli int64) []trace.Pod {
	sorted := make([]trace.Pod, len(pods))
	for i, pod := range pods {
		sorted[i] = pod.Clone()
	}
	slices.SortStableFunc(sorted, func(a, b trace.Pod) int { return strings.Compare(a.Name, b.Name) })

	out := slices.Clone(sorted)
	p.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })

	var requested int64
	for _, pod := range out {
		requested += pod.TotalGPUMilli()
	}
	if ratio <= 0 || capacityGPUMilli <= 0 || requested <= 0 {
		return out
	}
	target := ratio * float64(capacityGPUMilli)
	switch {
	case float64(requested) < target:
		return p.tuneUp(out, sorted, requested, target)
	case float64(requested) > target:
		return p.tuneDown(out, requested, target)
	}
	return out
}

func (p *Protocol) tuneUp(out, sorted []trace.Pod, requested int64, target float64) []trace.Pod {
	for i := 0; ; i++ {
		drawn := sorted[p.rng.Intn(len(sorted))]
		if float64(requested+drawn.GPUMilli) > target {
			return out
		}
		c := drawn.Clone()
		c.Name = fmt.Sprintf("%s-tuned-%d", drawn.Name, i)
		requested += c.TotalGPUMilli()
		out = append(out, c)
	}
}

func (p *Protocol) tuneDown(out []trace.Pod, requested int64, target float64) []trace.Pod {
	for float64(requested) > target && len(out) > 0 {
		i := p.rng.Intn(len(out))
		requested -= out[i].TotalGPUMilli()
		out = slices.Delete(out, i, i+1)
	}
	return out
}

// NodePrefixes gives every node the reference's random name prefix (fgd-anchor §5 step 4): the nodes
// sorted by name, the node at sorted position i is renamed fmt.Sprintf("%04d-%s", perm[i], name) with
// perm = rand.Perm(len(nodes)) drawn from the run's source. The scheduler breaks score ties by the
// smallest prefixed name. The result maps each original name to its prefixed name.
func (p *Protocol) NodePrefixes(nodes []trace.Node) map[string]string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	slices.Sort(names)
	perm := p.rng.Perm(len(names))
	prefixed := make(map[string]string, len(names))
	for i, name := range names {
		prefixed[name] = fmt.Sprintf("%04d-%s", perm[i], name)
	}
	return prefixed
}

// Inflate is NewProtocol(seed).Inflate(pods, ratio, capacityGPUMilli), for callers that need no node
// prefixes.
func Inflate(pods []trace.Pod, seed int64, ratio float64, capacityGPUMilli int64) []trace.Pod {
	return NewProtocol(seed).Inflate(pods, ratio, capacityGPUMilli)
}
