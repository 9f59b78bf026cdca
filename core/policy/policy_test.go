package policy_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/state"
)

func TestNew(t *testing.T) {
	types := policy.Types()
	assert.IsNonDecreasing(t, types)
	for _, typ := range []policy.Type{policy.Binpack, policy.Spread, policy.FGD, policy.BestFit, policy.DotProduct, policy.GPUPacking, policy.GPUClustering, policy.Random, policy.LookaheadFGD} {
		assert.Contains(t, types, typ)
	}
	_, err := policy.New("Tetris", policy.Options{})
	require.EqualError(t, err, fmt.Sprintf(`unknown policy "Tetris" (known: %v)`, types))
	assert.True(t, policy.NeedsWorkload(policy.FGD))
	assert.True(t, policy.NeedsWorkload(policy.LookaheadFGD))
	for _, typ := range []policy.Type{policy.Binpack, policy.Spread, policy.BestFit, policy.DotProduct, policy.GPUPacking, policy.GPUClustering, policy.Random} {
		assert.False(t, policy.NeedsWorkload(typ), typ)
		_, err := policy.New(typ, policy.Options{})
		assert.NoError(t, err, "%s needs no options", typ)
	}
}

func TestNormalize(t *testing.T) {
	minMax := mustNew(t, policy.BestFit, policy.Options{})
	clamp := mustNew(t, policy.Binpack, policy.Options{})
	pickOne := mustNew(t, policy.Random, policy.Options{})
	tests := []struct {
		name string
		s    policy.Strategy
		in   []int64
		want []int64
	}{
		{name: "min-max", s: minMax, in: []int64{31, 90, 60}, want: []int64{0, 100, 49}},
		{name: "min-max negative", s: minMax, in: []int64{-50, 50, 0}, want: []int64{0, 100, 50}},
		{name: "min-max all equal", s: minMax, in: []int64{7, 7}, want: []int64{100, 100}},
		{name: "min-max one", s: minMax, in: []int64{-3}, want: []int64{100}},
		{name: "min-max none", s: minMax, in: []int64{}, want: []int64{}},
		{name: "pick", s: pickOne, in: []int64{5, 1 << 62, -3, 1<<62 - 1}, want: []int64{0, 100, 0, 0}},
		{name: "pick first of equals", s: pickOne, in: []int64{7, 9, 9}, want: []int64{0, 100, 0}},
		{name: "pick none", s: pickOne, in: []int64{}, want: []int64{}},
		{name: "clamp", s: clamp, in: []int64{-5, 0, 50, 100, 150}, want: []int64{0, 0, 50, 100, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := append([]int64{}, tt.in...)
			policy.Normalize(tt.s, got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("scores (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestWorkloadValidate(t *testing.T) {
	ok := policy.Shape{CPUMilli: 1000, Count: 1, Units: 50, Weight: 1}
	with := func(f func(*policy.Shape)) policy.Workload {
		s := ok
		f(&s)
		return policy.Workload{ok, s}
	}
	tests := []struct {
		name    string
		w       policy.Workload
		wantErr string
	}{
		{name: "valid", w: policy.Workload{ok, {Count: 0, Weight: 0.5}, {Kind: device.NPU, Count: 4, Units: 100, Models: []string{"Ascend910B"}, Weight: 2}}},
		{name: "no shapes", w: nil, wantErr: "workload has no shapes"},
		{name: "unknown kind", w: with(func(s *policy.Shape) { s.Kind = "tpu" }), wantErr: `shapes[1]: unknown kind "tpu"`},
		{name: "negative count", w: with(func(s *policy.Shape) { s.Count = -1 }), wantErr: "shapes[1]: negative count -1"},
		{name: "zero units", w: with(func(s *policy.Shape) { s.Units = 0 }), wantErr: "shapes[1]: units 0 outside 1..100"},
		{name: "too many units", w: with(func(s *policy.Shape) { s.Units = 101 }), wantErr: "shapes[1]: units 101 outside 1..100"},
		{name: "several partial devices", w: with(func(s *policy.Shape) { s.Count = 2 }), wantErr: "shapes[1]: 2 devices of 50% each; several devices must be whole"},
		{name: "negative CPU", w: with(func(s *policy.Shape) { s.CPUMilli = -1 }), wantErr: "shapes[1]: negative cpuMilli -1"},
		{name: "zero weight", w: with(func(s *policy.Shape) { s.Weight = 0 }), wantErr: "shapes[1]: weight 0 must be positive and finite"},
		{name: "NaN weight", w: with(func(s *policy.Shape) { s.Weight = math.NaN() }), wantErr: "shapes[1]: weight NaN must be positive and finite"},
		{name: "infinite weight", w: with(func(s *policy.Shape) { s.Weight = math.Inf(1) }), wantErr: "shapes[1]: weight +Inf must be positive and finite"},
		{name: "bad model", w: with(func(s *policy.Shape) { s.Models = []string{"V100;rm"} }), wantErr: `shapes[1]: model "V100;rm" is not a valid model name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
			_, err = policy.New(policy.FGD, policy.Options{Workload: tt.w})
			require.EqualError(t, err, "FGD needs a workload distribution: "+tt.wantErr)
		})
	}
}

func TestWorkloadNormalizedAndKey(t *testing.T) {
	w := policy.Workload{{Count: 1, Units: 50, Weight: 1}, {Count: 0, CPUMilli: 500, Weight: 3}}
	got := w.Normalized()
	assert.InDelta(t, 0.25, got[0].Weight, 1e-12)
	assert.InDelta(t, 0.75, got[1].Weight, 1e-12)
	assert.Equal(t, 1.0, w[0].Weight, "Normalized copies")
	assert.Equal(t, "gpu/0/1x50/", w[0].Key())
	assert.Equal(t, "npu/2000/2x100/V100M16|V100M32", policy.Shape{Kind: device.NPU, CPUMilli: 2000, Count: 2, Units: 100, Models: []string{"V100M16", "V100M32"}}.Key())
}

func TestZoneSpreadScore(t *testing.T) {
	tests := []struct {
		count, max int
		want       int64
	}{
		{0, 0, 100}, {0, 3, 100}, {1, 3, 66}, {2, 3, 33}, {3, 3, 0},
		{5, 3, 0}, {-1, 3, 100},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, policy.ZoneSpreadScore(tt.count, tt.max), "count %d of %d", tt.count, tt.max)
	}
}

func TestBlend(t *testing.T) {
	tests := []struct {
		name          string
		packing, zone int64
		weight        int32
		want          int64
	}{
		{name: "default weight", packing: 80, zone: 20, weight: 70, want: (30*80 + 70*20) / 100},
		{name: "zones ignored", packing: 80, zone: 20, weight: 0, want: 80},
		{name: "packing ignored", packing: 80, zone: 20, weight: 100, want: 20},
		{name: "weight above 100 clamped", packing: 80, zone: 20, weight: 150, want: 20},
		{name: "negative weight clamped", packing: 80, zone: 20, weight: -5, want: 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, policy.Blend(tt.packing, tt.zone, tt.weight))
		})
	}
	// At 70, a node in an emptier zone beats a better-packed node in a
	// fuller one while the packing gap is below 70·(zone gap)/30: zone gap
	// 34 allows 79; gap 50 < 79, so the emptier zone wins (85 over 76).
	assert.Greater(t, policy.Blend(50, 100, 70), policy.Blend(100, 66, 70))
	// A packing gap of 90 > 79 wins over the zones (82 over 79).
	assert.Less(t, policy.Blend(10, 100, 70), policy.Blend(100, 66, 70))
}

func TestMultiGPUPrefersOneLinkGroupThenNUMA(t *testing.T) {
	// Link groups a = GPUs 0-3 and b = GPUs 4-7 (NUMA 0 and 1). GPUs 0, 1
	// and 5 are busy, so a has 2 free (2, 3) and b 3 (4, 6, 7).
	linked := coretest.MakeNode("linked").GPUs("A100", 8, 81920)
	for i := 0; i < 8; i++ {
		linked.Topology(i, i/4, map[bool]string{true: "a", false: "b"}[i < 4])
	}
	ls := linked.State()
	coretest.Hold(ls, "default/x", 10, 0, 1, 5)
	// No link groups; NUMA 0 = GPUs 0-3, 1 = 4-7; GPU 1 busy.
	numa := coretest.MakeNode("numa").GPUs("A100", 8, 81920)
	for i := 0; i < 8; i++ {
		numa.Topology(i, i/4, "")
	}
	ns := coretest.Hold(numa.State(), "default/x", 10, 1)
	// Unknown NUMA and no link groups: plain lowest free indices.
	flat := coretest.MakeNode("flat").GPUs("A100", 4, 81920)
	for i := 0; i < 4; i++ {
		flat.Topology(i, device.NoNUMA, "")
	}
	fs := coretest.Hold(flat.State(), "default/x", 10, 1)

	tests := []struct {
		name string
		node string
		n    int
		want []int
	}{
		{name: "two: the smallest link group that holds them", node: "linked", n: 2, want: []int{2, 3}},
		{name: "three: the only link group with three", node: "linked", n: 3, want: []int{4, 6, 7}},
		{name: "four: no group has them, lowest free", node: "linked", n: 4, want: []int{2, 3, 4, 6}},
		{name: "three: the smallest NUMA node that holds them", node: "numa", n: 3, want: []int{0, 2, 3}},
		{name: "four: the NUMA node with four", node: "numa", n: 4, want: []int{4, 5, 6, 7}},
		{name: "no topology", node: "flat", n: 2, want: []int{0, 2}},
	}
	states := map[string]*state.NodeState{"linked": ls, "numa": ns, "flat": fs}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, typ := range []policy.Type{policy.Binpack, policy.BestFit, policy.DotProduct, policy.GPUPacking, policy.GPUClustering} {
				s := mustNew(t, typ, policy.Options{})
				alloc, _, ok := s.Score(states[tt.node], gpus(tt.n, 100, 0))
				require.True(t, ok, typ)
				assert.Equal(t, [][]int{tt.want}, indices(alloc), typ)
			}
		})
	}
}
