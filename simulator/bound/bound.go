package bound

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gantry-dev/gantry/simulator/trace"
)

// NodeType is Count nodes that are the same machine.
type NodeType struct {
	CPUMilli, MemoryMiB int64
	GPUs                int
	Model               string
	Count               int
}

// Class is Count pods that ask for the same thing.
type Class struct {
	CPUMilli, MemoryMiB int64
	GPUs                int
	// GPUMilli is the share of each GPU (1000 for whole GPUs).
	GPUMilli int64
	// Models are the GPU models the pods accept; empty means any.
	Models []string
	Count  int
}

func (c Class) allows(model string) bool {
	return len(c.Models) == 0 || slices.Contains(c.Models, model)
}

func (c Class) fits(t NodeType) bool {
	return c.CPUMilli <= t.CPUMilli && c.MemoryMiB <= t.MemoryMiB && c.GPUs <= t.GPUs && c.allows(t.Model)
}

// Result is a certified upper bound.
type Result struct {
	// Milli is the bound on allocated milli-GPU: no placement of the pods
	// allocates more.
	Milli int64
	// LPMilli is the relaxation's optimum as the solver found it (Milli is
	// its certified, rounded-up counterpart).
	LPMilli float64
	// CapacityMilli is the nodes' GPU capacity and ArrivedMilli what the
	// pods ask for in all.
	CapacityMilli, ArrivedMilli int64
	// Pods is how many pods the bound covers.
	Pods int
	// Note says how the bound was loosened to stay computable; empty when
	// it is the LP of the package doc as is.
	Note string
}

// Percent is Milli over capacity in percent, rounded up to 2 decimals, so
// that a policy's allocation rounded to 2 decimals never exceeds it.
func (r Result) Percent() float64 {
	if r.CapacityMilli == 0 {
		return 0
	}
	return math.Ceil(float64(r.Milli)*10000/float64(r.CapacityMilli)-1e-9) / 100
}

// Group collects nodes into types and the pods that ask for a GPU into
// classes, both in a deterministic order.
func Group(nodes []trace.Node, pods []trace.Pod) ([]NodeType, []Class) {
	types := map[string]*NodeType{}
	for _, n := range nodes {
		if n.GPUs == 0 {
			continue
		}
		k := fmt.Sprint(n.CPUMilli, n.MemoryMiB, n.GPUs, n.Model)
		if types[k] == nil {
			types[k] = &NodeType{CPUMilli: n.CPUMilli, MemoryMiB: n.MemoryMiB, GPUs: n.GPUs, Model: n.Model}
		}
		types[k].Count++
	}
	classes := map[string]*Class{}
	for _, p := range pods {
		if p.NumGPU == 0 {
			continue
		}
		models := slices.Clone(p.GPUSpec)
		slices.Sort(models)
		models = slices.Compact(models)
		k := fmt.Sprint(p.CPUMilli, p.MemoryMiB, p.NumGPU, p.GPUMilli, strings.Join(models, "|"))
		if classes[k] == nil {
			classes[k] = &Class{CPUMilli: p.CPUMilli, MemoryMiB: p.MemoryMiB, GPUs: p.NumGPU, GPUMilli: p.GPUMilli, Models: models}
		}
		classes[k].Count++
	}
	return sortedValues(types), sortedValues(classes)
}

func sortedValues[T any](m map[string]*T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]T, len(keys))
	for i, k := range keys {
		out[i] = *m[k]
	}
	return out
}

// Solve bounds the milli-GPU allocation of any placement of the classes'
// pods on the node types (see the package doc for the relaxation and its
// proof).
func Solve(types []NodeType, classes []Class) (Result, error) {
	res := Result{}
	for _, t := range types {
		res.CapacityMilli += int64(t.Count) * int64(t.GPUs) * trace.MilliPerGPU
	}
	for _, c := range classes {
		if c.Count < 0 || c.GPUs < 1 || c.GPUMilli < 1 || c.GPUMilli > trace.MilliPerGPU || (c.GPUs > 1 && c.GPUMilli != trace.MilliPerGPU) {
			return Result{}, fmt.Errorf("bound: class %+v is not a GPU request", c)
		}
		res.ArrivedMilli += int64(c.Count) * int64(c.GPUs) * c.GPUMilli
		res.Pods += c.Count
	}
	res.Milli = min(res.ArrivedMilli, res.CapacityMilli) // the trivial bound, until the LP does better
	for level := 0; level <= maxCoarsening; level++ {
		p := build(types, coarsen(classes, level))
		if len(p.vars) == 0 {
			res.Milli = 0
			return res, nil
		}
		if p.tableauSize() > maxTableau {
			continue
		}
		opt, _, y, err := maximize(p.scaledC(), p.scaledA(), p.scaledB())
		if errors.Is(err, errIterations) {
			res.Note = "the LP did not converge; the bound is the pods' demand or the capacity, whichever is less"
			return res, nil
		}
		if err != nil {
			return Result{}, fmt.Errorf("bound: %w", err)
		}
		res.LPMilli = opt * p.objScale
		res.Milli = min(int64(math.Floor(p.certify(p.unscaleDual(y)))), res.Milli)
		if level > 0 {
			res.Note = fmt.Sprintf("CPU and memory requests rounded down to multiples of %d millicores and %d MiB to keep the LP small (a looser bound, still sound)",
				1000<<level, 1024<<level)
		}
		return res, nil
	}
	res.Note = "too many distinct pods and nodes for the LP; the bound is the pods' demand or the capacity, whichever is less"
	return res, nil
}

// maxTableau bounds the simplex tableau (entries; 8 bytes each), and
// maxCoarsening how far coarsen may round requests to get under it.
const (
	maxTableau    = 16 << 20
	maxCoarsening = 8
)

func (p *problem) tableauSize() int {
	return (len(p.rows) + 1) * (len(p.vars) + len(p.rows) + 1)
}

// coarsen rounds every class's CPU and memory down to multiples of
// 1000<<level millicores and 1024<<level MiB and merges the classes that
// become equal. Asking for less can only make more placements feasible,
// so the coarse LP bounds the fine one; level 0 is classes unchanged.
func coarsen(classes []Class, level int) []Class {
	if level == 0 {
		return classes
	}
	cpu, mem := int64(1000)<<level, int64(1024)<<level
	merged := map[string]*Class{}
	for _, c := range classes {
		c.CPUMilli = c.CPUMilli / cpu * cpu
		c.MemoryMiB = c.MemoryMiB / mem * mem
		k := fmt.Sprint(c.CPUMilli, c.MemoryMiB, c.GPUs, c.GPUMilli, strings.Join(c.Models, "|"))
		if m, ok := merged[k]; ok {
			m.Count += c.Count
			continue
		}
		cc := c
		merged[k] = &cc
	}
	return sortedValues(merged)
}

// Inflation bounds the headline of an inflation run of t with seed and
// ratio: the allocation at the target bin (round-half-even percent of
// arrived demand) of any policy. It covers the pods submitted up to the last
// one whose arrived demand still bins at target+1 or below, which includes
// every sample the headline (or its neighbour fill-in) averages.
func Inflation(t trace.Trace, pods []trace.Pod, ratio float64) (Result, error) {
	var capacity int64
	for _, n := range t.Nodes {
		capacity += n.GPUMilli()
	}
	target := int(math.RoundToEven(ratio * 100))
	var arrived int64
	end := 0
	for i, p := range pods {
		arrived += p.TotalGPUMilli()
		if capacity > 0 && int(math.RoundToEven(float64(arrived)/float64(capacity)*100)) > target+1 {
			break
		}
		end = i + 1
	}
	types, classes := Group(t.Nodes, pods[:end])
	return Solve(types, classes)
}

// problem is the LP in the original (integer-valued) coefficients, with one
// row and column scale each so that the simplex sees numbers near 1.
type problem struct {
	vars   []pair
	c      []float64
	rows   []row
	counts []float64 // upper bound on each variable (its class size)
	// objScale multiplies the scaled objective back into milli-GPU.
	objScale float64
}

type pair struct{ t, s int }

type row struct {
	coef []term // by increasing variable index
	rhs  float64
}

type term struct {
	j int
	v float64
}

func build(types []NodeType, classes []Class) *problem {
	p := &problem{objScale: trace.MilliPerGPU}
	byClass := make([][]int, len(classes))
	byType := make([][]int, len(types))
	for ti, t := range types {
		for si, c := range classes {
			if c.Count == 0 || !c.fits(t) {
				continue
			}
			j := len(p.vars)
			p.vars = append(p.vars, pair{ti, si})
			p.c = append(p.c, float64(int64(c.GPUs)*c.GPUMilli))
			p.counts = append(p.counts, float64(c.Count))
			byClass[si] = append(byClass[si], j)
			byType[ti] = append(byType[ti], j)
		}
	}
	for si, js := range byClass {
		if len(js) == 0 {
			continue
		}
		r := row{rhs: float64(classes[si].Count)}
		for _, j := range js {
			r.coef = append(r.coef, term{j, 1})
		}
		p.rows = append(p.rows, r)
	}
	for ti, js := range byType {
		if len(js) == 0 {
			continue
		}
		t := types[ti]
		n := float64(t.Count)
		resources := []struct {
			capacity float64
			need     func(Class) float64
		}{
			{float64(t.CPUMilli), func(c Class) float64 { return float64(c.CPUMilli) }},
			{float64(t.MemoryMiB), func(c Class) float64 { return float64(c.MemoryMiB) }},
			{float64(t.GPUs) * trace.MilliPerGPU, func(c Class) float64 { return float64(int64(c.GPUs) * c.GPUMilli) }},
		}
		for _, res := range resources {
			if res.capacity <= 0 {
				continue
			}
			lin := row{rhs: n * res.capacity}
			for _, j := range js {
				if v := res.need(classes[p.vars[j].s]); v > 0 {
					lin.coef = append(lin.coef, term{j, v})
				}
			}
			p.addRow(lin)
			frac := func(j int) float64 { return res.need(classes[p.vars[j].s]) / res.capacity }
			for _, h := range dffs {
				p.addCut(js, n, frac, func(j int) float64 { return h(frac(j)) })
			}
		}
		cards := func(j int) float64 {
			c := classes[p.vars[j].s]
			return float64(c.GPUs) * float64(c.GPUMilli) / trace.MilliPerGPU
		}
		for _, h := range dffs {
			p.addCut(js, n*float64(t.GPUs), cards, func(j int) float64 {
				c := classes[p.vars[j].s]
				return float64(c.GPUs) * h(float64(c.GPUMilli)/trace.MilliPerGPU)
			})
		}
	}
	return p
}

func (p *problem) addRow(r row) {
	if len(r.coef) > 0 {
		p.rows = append(p.rows, r)
	}
}

// addCut adds sum_j w(j) x_j <= rhs over js, unless the row is implied by
// the linear one it strengthens (no w(j) above lin(j)), which keeps the LP
// small.
func (p *problem) addCut(js []int, rhs float64, lin, w func(j int) float64) {
	r := row{rhs: rhs}
	stronger := false
	for _, j := range js {
		v := w(j)
		if v > 0 {
			r.coef = append(r.coef, term{j, v})
		}
		stronger = stronger || v > lin(j)+1e-12
	}
	if stronger {
		p.addRow(r)
	}
}

// dffs are the dual-feasible functions of the cuts (package doc).
var dffs = []func(float64) float64{
	fe(0.5), fe(0.4), fe(0.3), fe(0.2), fe(0.1),
	uk(2), uk(3), uk(4),
}

func fe(e float64) func(float64) float64 {
	return func(u float64) float64 {
		switch {
		case u > 1-e+1e-12:
			return 1
		case u < e-1e-12:
			return 0
		default:
			return u
		}
	}
}

func uk(k int) func(float64) float64 {
	return func(u float64) float64 {
		v := float64(k+1) * u
		if r := math.Round(v); math.Abs(v-r) < 1e-9 {
			return u
		}
		return math.Floor(v) / float64(k)
	}
}

func (p *problem) scaledC() []float64 {
	out := make([]float64, len(p.c))
	for j, v := range p.c {
		out[j] = v / p.objScale
	}
	return out
}

// rowScale divides each row by its right-hand side.
func (p *problem) rowScale(i int) float64 {
	if p.rows[i].rhs > 0 {
		return p.rows[i].rhs
	}
	return 1
}

func (p *problem) scaledA() [][]float64 {
	a := make([][]float64, len(p.rows))
	for i, r := range p.rows {
		a[i] = make([]float64, len(p.vars))
		s := p.rowScale(i)
		for _, e := range r.coef {
			a[i][e.j] = e.v / s
		}
	}
	return a
}

func (p *problem) scaledB() []float64 {
	b := make([]float64, len(p.rows))
	for i, r := range p.rows {
		b[i] = r.rhs / p.rowScale(i)
	}
	return b
}

// unscaleDual maps a dual of the scaled LP onto the original rows.
func (p *problem) unscaleDual(y []float64) []float64 {
	out := make([]float64, len(y))
	for i, v := range y {
		out[i] = max(0, v) * p.objScale / p.rowScale(i)
	}
	return out
}

// certify is b^T y + sum_j counts_j max(0, c_j - (A^T y)_j) for y >= 0 in
// the original coefficients, a weak-duality bound on the LP (package doc),
// with a relative margin for rounding in the sum.
func (p *problem) certify(y []float64) float64 {
	reduced := slices.Clone(p.c)
	var v float64
	for i, r := range p.rows {
		if y[i] == 0 {
			continue
		}
		v += r.rhs * y[i]
		for _, e := range r.coef {
			reduced[e.j] -= e.v * y[i]
		}
	}
	for j, rc := range reduced {
		if rc > 0 {
			v += rc * p.counts[j]
		}
	}
	return v*(1+1e-9) + 1e-6
}
