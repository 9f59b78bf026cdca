package bound

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/simulator/trace"
)

func node(name string, cpu, mem int64, gpus int, model string) trace.Node {
	return trace.Node{Name: name, CPUMilli: cpu, MemoryMiB: mem, GPUs: gpus, Model: model}
}

func pod(name string, cpu, mem int64, gpus int, milli int64, models ...string) trace.Pod {
	return trace.Pod{Name: name, CPUMilli: cpu, MemoryMiB: mem, NumGPU: gpus, GPUMilli: milli, GPUSpec: models}
}

// bruteForce is the most milli-GPU any placement allocates: every pod goes
// to one node and card(s) or stays out, trying all of them.
func bruteForce(nodes []trace.Node, pods []trace.Pod) int64 {
	type nodeState struct {
		cpu, mem int64
		free     []int64
	}
	st := make([]nodeState, len(nodes))
	for i, n := range nodes {
		st[i] = nodeState{cpu: n.CPUMilli, mem: n.MemoryMiB, free: make([]int64, n.GPUs)}
		for g := range st[i].free {
			st[i].free[g] = trace.MilliPerGPU
		}
	}
	var best int64
	var rec func(k int, alloc int64)
	rec = func(k int, alloc int64) {
		if k == len(pods) {
			best = max(best, alloc)
			return
		}
		rec(k+1, alloc) // pod k stays out
		p := pods[k]
		for i, n := range nodes {
			s := &st[i]
			if s.cpu < p.CPUMilli || s.mem < p.MemoryMiB {
				continue
			}
			if p.NumGPU > 0 && len(p.GPUSpec) > 0 && !(Class{Models: p.GPUSpec}).allows(n.Model) {
				continue
			}
			s.cpu -= p.CPUMilli
			s.mem -= p.MemoryMiB
			switch {
			case p.NumGPU == 0:
				rec(k+1, alloc)
			case p.NumGPU == 1:
				for g := range s.free {
					if s.free[g] >= p.GPUMilli {
						s.free[g] -= p.GPUMilli
						rec(k+1, alloc+p.GPUMilli)
						s.free[g] += p.GPUMilli
					}
				}
			default: // whole GPUs: which free ones does not matter
				var took []int
				for g := range s.free {
					if len(took) < p.NumGPU && s.free[g] == trace.MilliPerGPU {
						took = append(took, g)
					}
				}
				if len(took) == p.NumGPU {
					for _, g := range took {
						s.free[g] = 0
					}
					rec(k+1, alloc+int64(p.NumGPU)*trace.MilliPerGPU)
					for _, g := range took {
						s.free[g] = trace.MilliPerGPU
					}
				}
			}
			s.cpu += p.CPUMilli
			s.mem += p.MemoryMiB
		}
	}
	rec(0, 0)
	return best
}

func solve(t *testing.T, nodes []trace.Node, pods []trace.Pod) Result {
	t.Helper()
	types, classes := Group(nodes, pods)
	r, err := Solve(types, classes)
	require.NoError(t, err)
	return r
}

// TestKnownOptima: instances where the plain LP (CPU, memory, GPU milli)
// is loose, so only the cuts reach the true optimum.
func TestKnownOptima(t *testing.T) {
	big := int64(1 << 20)
	tests := []struct {
		name  string
		nodes []trace.Node
		pods  []trace.Pod
		want  int64
	}{
		{"shares above half: one per card", []trace.Node{node("n", 96000, big, 1, "T4")},
			[]trace.Pod{pod("a", 1000, 1, 1, 600), pod("b", 1000, 1, 1, 600), pod("c", 1000, 1, 1, 600)}, 600},
		{"two of 400 and one of 600 on two cards", []trace.Node{node("n", 96000, big, 2, "T4")},
			[]trace.Pod{pod("a", 1, 1, 1, 600), pod("b", 1, 1, 1, 600), pod("c", 1, 1, 1, 600), pod("d", 1, 1, 1, 400)}, 1600},
		{"three of 450 per card is one too many", []trace.Node{node("n", 96000, big, 1, "T4")},
			[]trace.Pod{pod("a", 1, 1, 1, 450), pod("b", 1, 1, 1, 450), pod("c", 1, 1, 1, 450)}, 900},
		{"CPU strands the second GPU", []trace.Node{node("n", 8000, big, 2, "T4")},
			[]trace.Pod{pod("a", 5000, 1, 1, 1000), pod("b", 5000, 1, 1, 1000)}, 1000},
		{"memory strands the second GPU", []trace.Node{node("n", 8000, 100, 2, "T4")},
			[]trace.Pod{pod("a", 1, 60, 1, 1000), pod("b", 1, 60, 1, 1000)}, 1000},
		{"model constraint", []trace.Node{node("n", 8000, big, 2, "T4"), node("m", 8000, big, 1, "V100M16")},
			[]trace.Pod{pod("a", 1, 1, 2, 1000, "V100M16"), pod("b", 1, 1, 1, 1000, "V100M16")}, 1000},
		{"a multi-GPU pod larger than every node", []trace.Node{node("n", 8000, big, 2, "T4")},
			[]trace.Pod{pod("a", 1, 1, 4, 1000)}, 0},
		{"CPU-only pods allocate nothing", []trace.Node{node("n", 8000, big, 1, "T4")},
			[]trace.Pod{pod("a", 8000, 1, 0, 0), pod("b", 1, 1, 1, 300)}, 300},
		{"two 5-GPU pods on an 8-GPU node", []trace.Node{node("n", 96000, big, 8, "G2")},
			[]trace.Pod{pod("a", 1, 1, 5, 1000), pod("b", 1, 1, 5, 1000), pod("c", 1, 1, 1, 1000)}, 6000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, bruteForce(tc.nodes, tc.pods), "brute force disagrees with the stated optimum")
			r := solve(t, tc.nodes, tc.pods)
			if diff := cmp.Diff(tc.want, r.Milli); diff != "" {
				t.Errorf("bound (-want,+got):\n%s", diff)
			}
		})
	}
}

// TestSoundOnRandomInstances: on random small clusters the bound is never
// below what brute force finds, never above the demand or capacity, and the
// solver's primal optimum agrees with the certified dual (so both are
// optimal, and the certification is not loose).
func TestSoundOnRandomInstances(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	models := []string{"T4", "V100M16"}
	shares := []int64{100, 250, 300, 400, 500, 600, 700, 1000}
	for i := range 300 {
		var nodes []trace.Node
		for k := range 1 + rng.Intn(2) {
			nodes = append(nodes, node(fmt.Sprint("n", k), int64(4000+rng.Intn(3)*4000), int64(64+rng.Intn(3)*64), 1+rng.Intn(3), models[rng.Intn(2)]))
		}
		var pods []trace.Pod
		for k := range 1 + rng.Intn(5) {
			p := pod(fmt.Sprint("p", k), int64(rng.Intn(5)*1000), int64(rng.Intn(4)*32), 1, shares[rng.Intn(len(shares))])
			switch rng.Intn(6) {
			case 0:
				p.NumGPU, p.GPUMilli = 2, 1000
			case 1:
				p.NumGPU, p.GPUMilli = 0, 0
			case 2:
				p.GPUSpec = []string{models[rng.Intn(2)]}
			}
			pods = append(pods, p)
		}
		opt := bruteForce(nodes, pods)
		r := solve(t, nodes, pods)
		require.GreaterOrEqualf(t, r.Milli, opt, "instance %d: bound below a reachable allocation\nnodes %+v\npods %+v", i, nodes, pods)
		require.LessOrEqual(t, r.Milli, min(r.ArrivedMilli, r.CapacityMilli), "instance %d", i)
		require.InDeltaf(t, r.LPMilli, float64(r.Milli), 1.5, "instance %d: primal and certified dual differ", i)
	}
}

func TestPercentRoundsUp(t *testing.T) {
	tests := []struct {
		milli, capacity int64
		want            float64
	}{
		{5919410, 6212000, 95.29}, // 95.2899...
		{6212000, 6212000, 100},
		{621200, 6212000, 10},
		{0, 0, 0},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, Result{Milli: tc.milli, CapacityMilli: tc.capacity}.Percent(), "%d/%d", tc.milli, tc.capacity)
	}
}

func TestSolveRejectsNonGPUClass(t *testing.T) {
	_, err := Solve([]NodeType{{CPUMilli: 1, MemoryMiB: 1, GPUs: 1, Model: "T4", Count: 1}}, []Class{{GPUs: 2, GPUMilli: 500, Count: 1}})
	require.ErrorContains(t, err, "not a GPU request")
}

// TestCoarseningStaysSound: rounding requests down and merging classes
// gives a bound at least the exact one on random instances, and a huge
// instance still gets a (looser, noted) bound instead of an error.
func TestCoarseningStaysSound(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := range 50 {
		types := []NodeType{{CPUMilli: 16000, MemoryMiB: 65536, GPUs: 2, Model: "T4", Count: 1 + rng.Intn(3)}, {CPUMilli: 96000, MemoryMiB: 393216, GPUs: 8, Model: "G2", Count: 1 + rng.Intn(3)}}
		var classes []Class
		for range 1 + rng.Intn(8) {
			classes = append(classes, Class{CPUMilli: int64(rng.Intn(20000)), MemoryMiB: int64(rng.Intn(60000)), GPUs: 1, GPUMilli: int64(10 * (1 + rng.Intn(100))), Count: 1 + rng.Intn(5)})
		}
		exact := build(types, classes)
		opt, _, _, err := maximize(exact.scaledC(), exact.scaledA(), exact.scaledB())
		require.NoError(t, err)
		for level := 1; level <= 3; level++ {
			p := build(types, coarsen(classes, level))
			coarse, _, _, err := maximize(p.scaledC(), p.scaledA(), p.scaledB())
			require.NoError(t, err)
			require.GreaterOrEqualf(t, coarse*p.objScale, opt*exact.objScale-1e-6, "instance %d level %d", i, level)
		}
	}
	var classes []Class
	for i := range 6000 {
		classes = append(classes, Class{CPUMilli: int64(1 + i), MemoryMiB: int64(1 + i%977), GPUs: 1, GPUMilli: 500, Count: 1})
	}
	var types []NodeType
	for i := range 40 {
		types = append(types, NodeType{CPUMilli: int64(64000 + i), MemoryMiB: 1 << 20, GPUs: 8, Model: "G2", Count: 1})
	}
	r, err := Solve(types, classes)
	require.NoError(t, err)
	assert.NotEmpty(t, r.Note)
	assert.GreaterOrEqual(t, r.Milli, int64(8*40*500*2), "every card can take two 500-milli shares")
	assert.LessOrEqual(t, r.Milli, r.CapacityMilli)
}
