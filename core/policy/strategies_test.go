package policy_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

func TestBinpack(t *testing.T) {
	s := mustNew(t, policy.Binpack, policy.Options{})
	assert.Equal(t, policy.Clamp, s.Normalization())
	sick := gpuNode("sick", 50, 0)
	sick.SetHealth(sick.Devices[0].ID, device.Unhealthy)
	runScoreCases(t, s, []scoreCase{
		// (50 used + 30) / 200 = 40 %; best fit is GPU 0 (50 free, not 100).
		{name: "half-used node", node: gpuNode("a", 50, 0), req: gpus(1, 30, 0), wantScore: 40, wantDevs: [][]int{{0}}},
		// 30 / 200 = 15 %; equal room, lowest index.
		{name: "empty node", node: gpuNode("b", 0, 0), req: gpus(1, 30, 0), wantScore: 15, wantDevs: [][]int{{0}}},
		// Best fit: GPU 2 has 40 free, the least that still takes 30.
		{name: "smallest room that fits", node: gpuNode("c", 90, 30, 60, 0), req: gpus(1, 30, 0), wantScore: (180 + 30) * 100 / 400, wantDevs: [][]int{{2}}},
		// Healthy capacity 100, healthy used 0 (the 50 on the failed GPU do
		// not count): (0 + 30) / 100 = 30 %.
		{name: "units on an unhealthy GPU count for nothing", node: sick, req: gpus(1, 30, 0), wantScore: 30, wantDevs: [][]int{{1}}},
		// 50 / 200 as it stands.
		{name: "CPU-only request", node: gpuNode("a", 50, 0), req: cpuOnly(1000), wantScore: 25, wantDevs: nil},
	})
}

func TestSpread(t *testing.T) {
	s := mustNew(t, policy.Spread, policy.Options{})
	runScoreCases(t, s, []scoreCase{
		// 100 - 40; the emptiest GPU is GPU 1.
		{name: "half-used node", node: gpuNode("a", 50, 0), req: gpus(1, 30, 0), wantScore: 60, wantDevs: [][]int{{1}}},
		// 100 - 15.
		{name: "empty node", node: gpuNode("b", 0, 0), req: gpus(1, 30, 0), wantScore: 85, wantDevs: [][]int{{0}}},
		// 100 - (180 + 30)/400 = 100 - 52; most free is GPU 3.
		{name: "most room", node: gpuNode("c", 90, 30, 60, 0), req: gpus(1, 30, 0), wantScore: 48, wantDevs: [][]int{{3}}},
	})
}

// fgdWorkload: half the tasks take half a GPU, 30 % a whole GPU, 20 % no
// GPU; each asks for one CPU.
var fgdWorkload = policy.Workload{
	{CPUMilli: 1000, Count: 1, Units: 50, Weight: 5},
	{CPUMilli: 1000, Count: 1, Units: 100, Weight: 3},
	{CPUMilli: 1000, Count: 0, Weight: 2},
}

func TestFGD(t *testing.T) {
	s := mustNew(t, policy.FGD, policy.Options{Workload: fgdWorkload})
	assert.Equal(t, policy.Clamp, s.Normalization())
	runScoreCases(t, s, []scoreCase{
		// Before, free [100 100]: F = 0.5·0 + 0.3·0 + 0.2·200 = 40.
		// After 50 on GPU 0, free [50 100]: 0.5·0 + 0.3·50 + 0.2·150 = 45.
		// Δ = 5 units = 50 milli: floor(100/(1+e^0.05)) = floor(48.75) = 48.
		{name: "empty node", node: gpuNode("n1", 0, 0), req: gpus(1, 50, 1000), wantScore: 48, wantDevs: [][]int{{0}}},
		// Before, free [70 20]: 0.5·20 + 0.3·90 + 0.2·90 = 55. Only GPU 0
		// takes 50; after, [20 20]: 0.5·40 + 0.3·40 + 0.2·40 = 40.
		// Δ = -15 units = -150 milli: floor(100/(1+e^-0.15)) = floor(53.74) = 53.
		{name: "fragmented node", node: gpuNode("n2", 30, 80), req: gpus(1, 50, 1000), wantScore: 53, wantDevs: [][]int{{0}}},
		// Before, free [100 60 30]: 0.5·30 + 0.3·90 + 0.2·190 = 80.
		//   GPU 0 -> [70 60 30]: 0.5·30 + 0.3·160 + 0.2·160 = 95, Δ=15, score 46.
		//   GPU 1 -> [100 30 30]: 0.5·60 + 0.3·60 + 0.2·160 = 80, Δ=0, score 50.
		//   GPU 2 -> [100 60 0]: 0.5·0 + 0.3·60 + 0.2·160 = 50, Δ=-30, score floor(57.44) = 57.
		{name: "share goes to the GPU with the best score", node: gpuNode("n3", 0, 40, 70), req: gpus(1, 30, 1000), wantScore: 57, wantDevs: [][]int{{2}}},
		// Whole GPU: the lowest free index; [100 60 30] -> [0 60 30]:
		// 0.5·30 + 0.3·90 + 0.2·90 = 60, Δ = -20: floor(100/(1+e^-0.2)) = floor(54.98) = 54.
		{name: "whole GPU", node: gpuNode("n3", 0, 40, 70), req: gpus(1, 100, 1000), wantScore: 54, wantDevs: [][]int{{0}}},
		// Two whole GPUs take the lowest free indices 1 and 2. Before, free
		// [20 100 100 100]: 0.5·20 + 0.3·20 + 0.2·320 = 80; after [20 0 0 100]:
		// 0.5·20 + 0.3·20 + 0.2·120 = 40. Δ = -40: floor(100/(1+e^-0.4)) = floor(59.87) = 59.
		{name: "two whole GPUs", node: gpuNode("n4", 80, 0, 0, 0), req: gpus(2, 100, 1000), wantScore: 59, wantDevs: [][]int{{1, 2}}},
		// Untracked CPU and no device: nothing changes, Δ = 0.
		{name: "CPU-only task, untracked CPU", node: gpuNode("n1", 0, 0), req: cpuOnly(1000), wantScore: 50, wantDevs: nil},
		// 1.5 cores left, 0.5 after: no shape fits any more, F goes from
		// 40 to 200 (Δ = 160 units = 1600 milli):
		// floor(100/(1+e^1.6)) = floor(16.80) = 16.
		{name: "CPU-only task that strands the GPUs", node: gpuNode("n1", 0, 0).WithHost(32000, 1500, 1<<20), req: cpuOnly(1000), wantScore: 16, wantDevs: nil},
		// 32 cores left, 31 after: every shape still fits, Δ = 0.
		{name: "CPU-only task with room to spare", node: gpuNode("n1", 0, 0).WithHost(32000, 32000, 1<<20), req: cpuOnly(1000), wantScore: 50, wantDevs: nil},
	})
}

func TestFGDNeedsAWorkload(t *testing.T) {
	_, err := policy.New(policy.FGD, policy.Options{})
	require.EqualError(t, err, "FGD needs a workload distribution: workload has no shapes")
}

func TestBestFit(t *testing.T) {
	s := mustNew(t, policy.BestFit, policy.Options{})
	assert.Equal(t, policy.MinMax, s.Normalization())
	runScoreCases(t, s, []scoreCase{
		// s = 0.5·(64000-8000)/128000 + 0.5·(800-50)/800 = 0.21875 + 0.46875 = 0.6875;
		// int(100·0.3125) = 31.
		{name: "big empty node", node: gpuNode("a", 0, 0, 0, 0, 0, 0, 0, 0).WithHost(128000, 64000, 1<<20), req: gpus(1, 50, 8000), wantScore: 31, wantDevs: [][]int{{0}}},
		// s = 0.5·8000/128000 + 0.5·(160-50)/800 = 0.03125 + 0.06875 = 0.1; 90.
		// Best-fit GPU: GPU 1 (60 free).
		{name: "tight node", node: gpuNode("b", 0, 40).WithHost(32000, 16000, 1<<20), req: gpus(1, 50, 8000), wantScore: 90, wantDevs: [][]int{{1}}},
		// Untracked CPU counts as a free reference node:
		// s = 0.5·(128000-8000)/128000 + 0.5·(160-50)/800 = 0.46875 + 0.06875 = 0.5375; int(46.25) = 46.
		{name: "untracked CPU", node: gpuNode("c", 0, 40), req: gpus(1, 50, 8000), wantScore: 46, wantDevs: [][]int{{1}}},
	})
}

func TestDotProduct(t *testing.T) {
	s := mustNew(t, policy.DotProduct, policy.Options{})
	runScoreCases(t, s, []scoreCase{
		// dot = (64000/128000)(8000/128000) + (800/800)(50/800) = 0.03125 + 0.0625
		// = 0.09375; int(100·(1 - 0.046875)) = int(95.31) = 95.
		{name: "big empty node", node: gpuNode("a", 0, 0, 0, 0, 0, 0, 0, 0).WithHost(128000, 64000, 1<<20), req: gpus(1, 50, 8000), wantScore: 95, wantDevs: [][]int{{0}}},
		// dot = (16000/128000)(0.0625) + (160/800)(0.0625) = 0.0078125 + 0.0125
		// = 0.0203125; int(100·(1 - 0.01015625)) = int(98.98) = 98. Best fit GPU 1.
		{name: "tight node wins", node: gpuNode("b", 0, 40).WithHost(32000, 16000, 1<<20), req: gpus(1, 50, 8000), wantScore: 98, wantDevs: [][]int{{1}}},
	})
}

func TestGPUPacking(t *testing.T) {
	s := mustNew(t, policy.GPUPacking, policy.Options{})
	sick := gpuNode("sick", 0, 0)
	sick.SetHealth(sick.Devices[0].ID, device.Unhealthy)
	runScoreCases(t, s, []scoreCase{
		// (a) best fit GPU 1 is partly used with 60 free: 100 - 60/10 = 94.
		{name: "fits on a used GPU", node: gpuNode("a", 70, 40, 0, 0), req: gpus(1, 50, 0), wantScore: 94, wantDevs: [][]int{{1}}},
		// (a) GPU 0 with 30 free: 100 - 3 = 97.
		{name: "fits on the fullest used GPU", node: gpuNode("a", 70, 40, 0, 0), req: gpus(1, 20, 0), wantScore: 97, wantDevs: [][]int{{0}}},
		// (a) two containers on the used GPUs, 60 + 60 free chosen: 100 - 12 = 88.
		{name: "two containers on used GPUs", node: gpuNode("d", 40, 40, 0), req: func() *share.Request {
			r := &share.Request{Parts: []share.Part{{Container: "a", Kind: device.GPU, Count: 1, Units: 60}, {Container: "b", Kind: device.GPU, Count: 1, Units: 60}}}
			return r
		}(), wantScore: 88, wantDevs: [][]int{{0}, {1}}},
		// (b) only the free GPUs 2 and 3 take 80: one free GPU, 50 - 1 = 49.
		{name: "needs a free GPU on a used node", node: gpuNode("a", 70, 40, 0, 0), req: gpus(1, 80, 0), wantScore: 49, wantDevs: [][]int{{2}}},
		// (b) two free GPUs: 48.
		{name: "needs two free GPUs", node: gpuNode("a", 70, 40, 0, 0), req: gpus(2, 100, 0), wantScore: 48, wantDevs: [][]int{{2, 3}}},
		// (c) untouched 4-GPU node: 33 - 4 = 29.
		{name: "untouched node", node: gpuNode("b", 0, 0, 0, 0), req: gpus(1, 50, 0), wantScore: 29, wantDevs: [][]int{{0}}},
		// (c) 33 - 8 = 25.
		{name: "untouched bigger node", node: gpuNode("c", 0, 0, 0, 0, 0, 0, 0, 0), req: gpus(1, 50, 0), wantScore: 25, wantDevs: [][]int{{0}}},
		// (c) an unhealthy GPU does not make a node used: 33 - 2 = 31.
		{name: "unhealthy GPU on an untouched node", node: sick, req: gpus(1, 50, 0), wantScore: 31, wantDevs: [][]int{{1}}},
		{name: "CPU-only task", node: gpuNode("a", 70, 40, 0, 0), req: cpuOnly(1000), wantScore: 0, wantDevs: nil},
	})
}

func TestGPUClustering(t *testing.T) {
	s := mustNew(t, policy.GPUClustering, policy.Options{})
	shares := gpuNode("shares", 30, 0, 0, 0)
	mixed := coretest.Hold(gpuNode("mixed", 30, 0, 0, 0), "default/whole", 100, 1)
	wholes := coretest.Hold(gpuNode("wholes", 0, 0, 0, 0), "default/whole", 100, 0)
	runScoreCases(t, s, []scoreCase{
		// Only shares here: 75 + 25·(800-370)/800 = 75 + 13 = 88. Best fit GPU 0.
		{name: "only this type", node: shares, req: gpus(1, 50, 0), wantScore: 88, wantDevs: [][]int{{0}}},
		// Shares and a whole GPU: 50 + 25·(800-270)/800 = 50 + 16 = 66.
		{name: "this type among others", node: mixed, req: gpus(1, 50, 0), wantScore: 66, wantDevs: [][]int{{0}}},
		// No device work: 25 + 25·400/800 = 37.
		{name: "no device task", node: gpuNode("empty", 0, 0, 0, 0), req: gpus(1, 50, 0), wantScore: 37, wantDevs: [][]int{{0}}},
		// Only whole GPUs: 0 + 25·(800-300)/800 = 15.
		{name: "other types only", node: wholes, req: gpus(1, 50, 0), wantScore: 15, wantDevs: [][]int{{1}}},
		// A whole GPU on the node of whole GPUs: 75 + 15.
		{name: "whole GPU joins whole GPUs", node: wholes, req: gpus(1, 100, 0), wantScore: 90, wantDevs: [][]int{{1}}},
		// Two GPUs are another type than one: 0 + 15.
		{name: "two GPUs are another type", node: wholes, req: gpus(2, 100, 0), wantScore: 15, wantDevs: [][]int{{1, 2}}},
		{name: "CPU-only task", node: shares, req: cpuOnly(1000), wantScore: 0, wantDevs: nil},
		// 16 free GPUs: 25·(800-1600)/800 = -25 would leave the band; clamped to 25 + 0.
		{name: "bigger than the reference node", node: gpuNode("big", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), req: gpus(1, 50, 0), wantScore: 25, wantDevs: [][]int{{0}}},
	})
}

// pick runs s on every node and returns the one the scheduler would choose:
// the node Normalize gives MaxScore (the first, on a tie).
func pick(t *testing.T, s policy.Strategy, nodes []*state.NodeState, req *share.Request) (string, contract.Allocation) {
	t.Helper()
	scores := make([]int64, len(nodes))
	allocs := make([]contract.Allocation, len(nodes))
	for i, n := range nodes {
		a, score, ok := s.Score(n, req)
		require.True(t, ok)
		scores[i], allocs[i] = score, a
	}
	policy.Normalize(s, scores)
	best := 0
	for i, v := range scores {
		if v > scores[best] {
			best = i
		}
	}
	require.Equal(t, int64(policy.MaxScore), scores[best])
	return nodes[best].Name, allocs[best]
}

func TestRandom(t *testing.T) {
	nodes := []*state.NodeState{gpuNode("a", 0, 0), gpuNode("b", 0, 0), gpuNode("c", 0, 0), gpuNode("d", 0, 0)}
	s := mustNew(t, policy.Random, policy.Options{Seed: 42})
	again := mustNew(t, policy.Random, policy.Options{Seed: 42})
	other := mustNew(t, policy.Random, policy.Options{Seed: 7})
	assert.Equal(t, policy.Pick, s.Normalization())

	wins := map[string]int{}
	devs := map[int]int{}
	differs := 0
	for i := 0; i < 2000; i++ {
		req := gpus(1, 30, 0)
		req.Pod = fmt.Sprintf("default/p-%d", i)
		best, alloc := pick(t, s, nodes, req)
		best2, alloc2 := pick(t, again, nodes, req)
		require.Equal(t, best, best2, "the same seed picks the same node")
		require.Equal(t, alloc, alloc2, "the same seed picks the same device")
		if best3, _ := pick(t, other, nodes, req); best3 != best {
			differs++
		}
		wins[best]++
		devs[alloc.Containers[0].Devices[0].Index]++
	}
	// Another seed agrees by chance on a quarter of the pods.
	assert.InDelta(t, 1500, differs, 100, "another seed picks another node for %d of 2000", differs)
	for _, n := range nodes {
		// Uniform is 500 each (σ ≈ 19).
		assert.InDelta(t, 500, wins[n.Name], 80, "node %s wins %d of 2000", n.Name, wins[n.Name])
	}
	// The winner's share goes to either GPU alike (uniform: 1000 each).
	assert.InDelta(t, 1000, devs[0], 130)
	assert.InDelta(t, 1000, devs[1], 130)
}

// Random draws uniformly among all feasible nodes, not among the few with
// the top of a coarse score: on 1,000 identical nodes, 1,000 pods land on
// about 1000·(1-1/e) ≈ 632 distinct nodes (σ ≈ 9); the hash-mod-101 score
// that tied about ten nodes at 100 and let the first win put them on a
// few hundred.
func TestRandomIsUniformOverManyNodes(t *testing.T) {
	nodes := make([]*state.NodeState, 1000)
	for i := range nodes {
		nodes[i] = gpuNode(fmt.Sprintf("node-%04d", i), 0)
	}
	s := mustNew(t, policy.Random, policy.Options{Seed: 42})
	used := map[string]bool{}
	for i := 0; i < 1000; i++ {
		req := gpus(1, 10, 0)
		req.Pod = fmt.Sprintf("default/openb-pod-%04d", i)
		name, _ := pick(t, s, nodes, req)
		used[name] = true
	}
	assert.InDelta(t, 632, len(used), 45)
}

// Whole GPUs go to the lowest free indices, as the reference's exclusive
// allocation gives them.
func TestRandomWholeGPUsTakeTheLowestFreeIndices(t *testing.T) {
	s := mustNew(t, policy.Random, policy.Options{Seed: 42})
	for i := 0; i < 20; i++ {
		req := gpus(2, 100, 0)
		req.Pod = fmt.Sprintf("default/p-%d", i)
		a, _, ok := s.Score(gpuNode("n", 30, 0, 0, 0), req)
		require.True(t, ok)
		assert.Equal(t, [][]int{{1, 2}}, indices(a))
	}
}

func TestEveryStrategyRejectsWhatDoesNotFit(t *testing.T) {
	n := gpuNode("full", 100, 90)
	for _, typ := range policy.Types() {
		t.Run(string(typ), func(t *testing.T) {
			s := mustNew(t, typ, policy.Options{Workload: fgdWorkload, Seed: 1})
			_, score, ok := s.Score(n, gpus(1, 20, 0))
			assert.False(t, ok)
			assert.Zero(t, score)
		})
	}
}

// lookaheadWorkload: half a GPU (weight 0.5), 30 % (0.3), a whole GPU
// (0.2), each with one CPU. Residues (lookahead_internal_test.go): a
// remainder under 30 stays whole, 30 -> 0, 40 -> 10, 50 -> 7.5,
// 60 -> 6.25, 70 -> 16.25, 100 -> 8.625.
var lookaheadWorkload = policy.Workload{
	{CPUMilli: 1000, Count: 1, Units: 50, Weight: 0.5},
	{CPUMilli: 1000, Count: 1, Units: 30, Weight: 0.3},
	{CPUMilli: 1000, Count: 1, Units: 100, Weight: 0.2},
}

func TestLookaheadFGD(t *testing.T) {
	s := mustNew(t, policy.LookaheadFGD, policy.Options{Workload: lookaheadWorkload})
	assert.Equal(t, policy.Clamp, s.Normalization())
	runScoreCases(t, s, []scoreCase{
		// Free [100 100] -> [50 100]: only the whole GPU finds GPU 0 too
		// small, and counts its residue 7.5, not FGD's 50: Δ = 0.2·7.5 =
		// 1.5 units = 15 milli: floor(100/(1+e^0.015)) = floor(49.63) = 49.
		{name: "empty node", node: gpuNode("n1", 0, 0), req: gpus(1, 50, 1000), wantScore: 49, wantDevs: [][]int{{0}}},
		// Free [70 20]; only GPU 0 takes 50. Before: 0.5·20 + 0.3·20
		// (GPU 1 too small, nothing fills 20) + 0.2·90 (no free GPU for the
		// whole one: all of it) = 34. After [20 20] nothing fits anything:
		// 0.5·40 + 0.3·40 + 0.2·40 = 40. Δ = 6 units = 60 milli:
		// floor(100/(1+e^0.06)) = floor(48.50) = 48 (FGD: 53).
		{name: "fragmented node", node: gpuNode("n2", 30, 80), req: gpus(1, 50, 1000), wantScore: 48, wantDevs: [][]int{{0}}},
		// Free [100 60 30]; before: 0.2·(res 60 + res 30) = 0.2·6.25 = 1.25.
		//   GPU 0 -> [70 60 30]: no free GPU for the whole one: 0.2·160 = 32, score 42.
		//   GPU 1 -> [100 30 30]: 0.2·(0 + 0) = 0, Δ = -1.25 units: floor(50.31) = 50.
		//   GPU 2 -> [100 60 0]: 0.2·6.25 = 1.25, Δ = 0: 50.
		// GPUs 1 and 2 tie; the lower index wins (FGD takes GPU 2).
		{name: "share goes to the GPU with the best score", node: gpuNode("n3", 0, 40, 70), req: gpus(1, 30, 1000), wantScore: 50, wantDevs: [][]int{{1}}},
		// Whole GPU on the lowest free index: [0 60 30] leaves no free GPU
		// for the whole shape, 0.2·90 = 18; Δ = 16.75 units = 167.5 milli:
		// floor(100/(1+e^0.1675)) = floor(45.82) = 45.
		{name: "whole GPU", node: gpuNode("n3", 0, 40, 70), req: gpus(1, 100, 1000), wantScore: 45, wantDevs: [][]int{{0}}},
		// 1.5 cores left, 0.5 after: no shape fits, every free unit is lost
		// to each: 0 -> 200 units = 2000 milli: floor(100/(1+e^2)) = 11.
		{name: "CPU-only task that strands the GPUs", node: gpuNode("n1", 0, 0).WithHost(32000, 1500, 1<<20), req: cpuOnly(1000), wantScore: 11, wantDevs: nil},
		{name: "CPU-only task with room to spare", node: gpuNode("n1", 0, 0).WithHost(32000, 32000, 1<<20), req: cpuOnly(1000), wantScore: 50, wantDevs: nil},
	})
}

// Where no share of the workload can fill a remainder, every residue is
// the remainder itself and LookaheadFGD is FGD, score for score and device
// for device.
func TestLookaheadFGDIsFGDWhenNothingFillsARemainder(t *testing.T) {
	w := policy.Workload{
		{CPUMilli: 4000, Count: 1, Units: 100, Weight: 3},
		{CPUMilli: 16000, Count: 2, Units: 100, Weight: 1},
		{CPUMilli: 2000, Count: 0, Weight: 1},
	}
	fgd := mustNew(t, policy.FGD, policy.Options{Workload: w})
	look := mustNew(t, policy.LookaheadFGD, policy.Options{Workload: w})
	nodes := []*state.NodeState{
		gpuNode("a", 0, 0, 0, 0),
		gpuNode("b", 30, 0, 75, 0).WithHost(32000, 9000, 1<<20),
		gpuNode("c", 100, 55, 0, 10).WithHost(32000, 20000, 1<<20),
		gpuNode("d", 20, 40, 60, 80),
	}
	reqs := []*share.Request{gpus(1, 25, 1000), gpus(1, 70, 3000), gpus(1, 100, 4000), gpus(2, 100, 8000), cpuOnly(6000)}
	for _, n := range nodes {
		for _, req := range reqs {
			fa, fs, fok := fgd.Score(n, req)
			la, ls, lok := look.Score(n, req)
			require.Equal(t, fok, lok, "%s %+v", n.Name, req.Parts)
			assert.Equal(t, fs, ls, "%s %+v", n.Name, req.Parts)
			if diff := cmp.Diff(indices(fa), indices(la)); diff != "" {
				t.Errorf("%s %+v: devices (-FGD,+LookaheadFGD):\n%s", n.Name, req.Parts, diff)
			}
		}
	}
}

func TestLookaheadFGDNeedsAWorkload(t *testing.T) {
	_, err := policy.New(policy.LookaheadFGD, policy.Options{})
	require.EqualError(t, err, "LookaheadFGD needs a workload distribution: workload has no shapes")
}
