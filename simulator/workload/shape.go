package workload

import (
	"cmp"
	"slices"
	"strings"

	"github.com/gantry-dev/gantry/simulator/trace"
)

// DefaultCoverage is the FGD protocol's popularity cut: keep the most frequent shapes until they cover
// at least 95 % of all pods.
const DefaultCoverage = 0.95

// Shape is one kind of task: what a pod asks for, memory aside.
type Shape struct {
	// CPUMilli is the requested CPU in thousandths of a core.
	CPUMilli int64
	// GPUMilli is the share of each requested GPU in thousandths (0 for CPU-only shapes).
	GPUMilli int64
	// NumGPU is the number of GPUs requested.
	NumGPU int
	// Models is the pod's GPU model constraint as found (nil: any model). Lists that differ only in
	// order are different shapes, as in the reference.
	Models []string
	// Weight is the shape's probability in the distribution; the weights of a Distribution sum to 1.
	Weight float64
	// Count is how many pods of the input have this shape.
	Count int
}

// Distribution is a target workload: shapes, most frequent first.
type Distribution struct {
	Shapes []Shape
	// Pods is how many pods the distribution was built from.
	Pods int
	// Distinct is how many distinct shapes those pods have (before the coverage cut).
	Distinct int
	// Covered is how many pods have one of the kept shapes.
	Covered int
}

type shapeKey struct {
	cpu, gpuMilli int64
	numGPU        int
	models        string
}

// Shapes builds the FGD target workload from pods: group them by (CPUMilli, GPUMilli, NumGPU, GPUSpec
// joined by "|"), memory not part of the key and CPU-only pods included; sort the groups by count,
// descending; keep groups while the kept pods number less than coverage * len(pods) (so the kept ones
// cover at least coverage); and weight each kept shape by its count over the kept pods.
//
// Ties in count are ordered by CPUMilli, then GPUMilli, then NumGPU, then the joined model list, each
// descending: the reference simulator's order (a reversed sort on count and then those fields
// ascending), which decides which of several equally frequent shapes survive the cut.
//
// coverage >= 1 keeps every shape; at least one shape is always kept when pods is non-empty.
func Shapes(pods []trace.Pod, coverage float64) Distribution {
	counts := make(map[shapeKey]int)
	models := make(map[shapeKey][]string)
	for _, p := range pods {
		k := shapeKey{cpu: p.CPUMilli, gpuMilli: p.GPUMilli, numGPU: p.NumGPU, models: strings.Join(p.GPUSpec, "|")}
		if counts[k] == 0 && p.GPUSpec != nil {
			models[k] = slices.Clone(p.GPUSpec)
		}
		counts[k]++
	}
	keys := make([]shapeKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b shapeKey) int {
		return cmp.Or(
			cmp.Compare(counts[b], counts[a]),
			cmp.Compare(b.cpu, a.cpu),
			cmp.Compare(b.gpuMilli, a.gpuMilli),
			cmp.Compare(b.numGPU, a.numGPU),
			strings.Compare(b.models, a.models),
		)
	})

	total := float64(len(pods))
	want := coverage * total
	kept, covered := 0, 0
	for kept < len(keys) && (kept == 0 || float64(covered) < want) {
		covered += counts[keys[kept]]
		kept++
	}

	d := Distribution{Pods: len(pods), Distinct: len(keys), Covered: covered, Shapes: make([]Shape, kept)}
	for i, k := range keys[:kept] {
		// (count/total) / (covered/total), computed as the reference does, so weights match it bit for bit.
		weight := (float64(counts[k]) / total) / (float64(covered) / total)
		d.Shapes[i] = Shape{CPUMilli: k.cpu, GPUMilli: k.gpuMilli, NumGPU: k.numGPU, Models: models[k],
			Weight: weight, Count: counts[k]}
	}
	return d
}
