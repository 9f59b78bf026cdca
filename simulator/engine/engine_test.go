package engine

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/trace"
	"github.com/gantry-dev/gantry/simulator/workload"
)

// smallTrace is a hand-built cluster of 6 nodes (16 GPUs) and 40 pods of
// mixed shapes, sharing and whole-GPU, one model-constrained.
func smallTrace() trace.Trace {
	t := trace.Trace{}
	models := []string{"T4", "V100M16", "T4", "G2", "P100", "T4"}
	for i, m := range models {
		t.Nodes = append(t.Nodes, trace.Node{Name: fmt.Sprintf("n-%02d", i), CPUMilli: 32000, MemoryMiB: 131072, GPUs: 1 + i%4, Model: m})
	}
	shares := []int64{250, 500, 1000, 300, 1000, 700, 0, 1000}
	for i := 0; i < 40; i++ {
		p := trace.Pod{Name: fmt.Sprintf("p-%03d", i), CPUMilli: int64(1000 + 500*(i%5)), MemoryMiB: 2048}
		if g := shares[i%len(shares)]; g > 0 {
			p.NumGPU, p.GPUMilli = 1, g
			if g == 1000 && i%3 == 0 {
				p.NumGPU = 2
			}
		}
		if i%11 == 0 && p.NumGPU > 0 {
			p.GPUSpec = []string{"T4"}
		}
		t.Pods = append(t.Pods, p)
	}
	return t
}

func TestBinCurveHandComputed(t *testing.T) {
	// capacity 1000 milli: x = arrived/10 rounded half to even.
	s := []Sample{
		{ArrivedMilli: 5, AllocatedMilli: 5},   // 0.5 -> 0
		{ArrivedMilli: 15, AllocatedMilli: 15}, // 1.5 -> 2
		{ArrivedMilli: 25, AllocatedMilli: 25}, // 2.5 -> 2
		{ArrivedMilli: 26, AllocatedMilli: 20}, // 2.6 -> 3
		{ArrivedMilli: 51, AllocatedMilli: 40}, // 5.1 -> 5
		{ArrivedMilli: 54, AllocatedMilli: 41}, // 5.4 -> 5
	}
	got := BinCurve(s, 1000)
	want := []CurvePoint{
		{X: 0, Allocated: 0.5, Unallocated: 99.5, Samples: 1},
		{X: 1, Allocated: 1.25, Unallocated: 98.75}, // mean of bins 0 and 2
		{X: 2, Allocated: 2, Unallocated: 98, Samples: 2},
		{X: 3, Allocated: 2, Unallocated: 98, Samples: 1},
		{X: 4, Allocated: 3.03, Unallocated: 96.97}, // (2 + 4.05) / 2 = 3.025 -> 3.03
		{X: 5, Allocated: 4.05, Unallocated: 95.95, Samples: 2},
	}
	assert.Equal(t, want, got)
}

func TestBinCurveSkipsIsolatedGap(t *testing.T) {
	s := []Sample{{ArrivedMilli: 0, AllocatedMilli: 0}, {ArrivedMilli: 40, AllocatedMilli: 30}}
	got := BinCurve(s, 1000)
	// Bins 1 and 3 take their one non-empty neighbour; bin 2 has none and is left out.
	assert.Equal(t, []int{0, 1, 3, 4}, []int{got[0].X, got[1].X, got[2].X, got[3].X})
	assert.Equal(t, 0.0, got[1].Allocated)
	assert.Equal(t, 3.0, got[2].Allocated)
}

func TestConversion(t *testing.T) {
	assert.Equal(t, int64(300), RequestPercent(trace.Pod{NumGPU: 3, GPUMilli: 1000}))
	assert.Equal(t, int64(46), RequestPercent(trace.Pod{NumGPU: 1, GPUMilli: 460}))
	assert.Equal(t, int64(0), RequestPercent(trace.Pod{}))
	pod := PodObject(trace.Pod{Name: "a", CPUMilli: 1500, MemoryMiB: 10, NumGPU: 1, GPUMilli: 250, GPUSpec: []string{"V100M16", "V100M32"}})
	assert.Equal(t, "V100M16|V100M32", pod.Annotations["gantry.dev/gpu-models"])
	q := pod.Spec.Containers[0].Resources.Limits["gantry.dev/gpu-percent"]
	assert.Equal(t, int64(25), q.Value())
	node, err := NodeObject(trace.Node{Name: "n", CPUMilli: 64000, MemoryMiB: 1024, GPUs: 2, Model: "T4"})
	require.NoError(t, err)
	pq := node.Status.Allocatable["pods"]
	assert.Equal(t, int64(PodsPerNode), pq.Value())
	assert.Len(t, Inventory(trace.Node{Name: "n", GPUs: 2, Model: "T4"}).Devices, 2)
}

func TestFragmentationBookkeepingMatchesRecomputation(t *testing.T) {
	ctx := context.Background()
	tr := smallTrace()
	w := WorkloadOf(workload.Shapes(tr.Pods, 0.95))
	s, err := newSim(ctx, tr.Nodes, nil, policy.FGD, 1, w, DevicePlugin)
	require.NoError(t, err)
	for i, p := range tr.Pods {
		_, b, ok, err := s.schedule(ctx, p, PodObject(p))
		require.NoError(t, err)
		assert.InDelta(t, s.recomputeFrag(), s.fragUnits, 1e-6, "after pod %d", i)
		// Unbind every third bound pod again: departures keep the books too.
		if ok && i%3 == 0 {
			require.NoError(t, s.unbind(p, b))
			assert.InDelta(t, s.recomputeFrag(), s.fragUnits, 1e-6, "after unbinding pod %d", i)
		}
	}
	var idle int64
	for _, n := range s.states {
		for _, d := range n.Devices {
			idle += int64(d.Free())
		}
	}
	assert.Equal(t, idle, s.idleUnits)
}

func TestInflationDeterministic(t *testing.T) {
	ctx := context.Background()
	run := func() *InflationResult {
		r, err := RunInflation(ctx, Config{Trace: smallTrace(), Policy: policy.FGD, Seed: 7})
		require.NoError(t, err)
		r.Wall = 0
		return r
	}
	a, b := run(), run()
	assert.Equal(t, a, b)
	assert.Greater(t, a.Submitted, 10)
	assert.LessOrEqual(t, a.AllocatedMilli, a.CapacityMilli)
	last := a.Samples[len(a.Samples)-1]
	assert.LessOrEqual(t, float64(last.ArrivedMilli), 1.3*float64(a.CapacityMilli)+1000)
	assert.False(t, math.IsNaN(a.Headline()))
	// The bound covers the same pods and no policy passes it.
	assert.GreaterOrEqual(t, a.Bound.Percent(), a.Headline())
	assert.Equal(t, a.CapacityMilli, a.Bound.CapacityMilli)
}

// TestLimitOnlyPodsPlaceAsFullPods checks that leaving the gpu-percent copy
// out of requests (PodObject) changes no decision against the pod as the API
// server stores it (FullPodObject).
func TestLimitOnlyPodsPlaceAsFullPods(t *testing.T) {
	ctx := context.Background()
	tr := smallTrace()
	w := WorkloadOf(workload.Shapes(tr.Pods, 0.95))
	for _, pol := range []policy.Type{policy.FGD, policy.BestFit, policy.GPUPacking} {
		var got [2][]placement
		for k, conv := range []func(trace.Pod) *corev1.Pod{PodObject, FullPodObject} {
			s, err := newSim(ctx, tr.Nodes, nil, pol, 1, w, DevicePlugin)
			require.NoError(t, err)
			for _, p := range tr.Pods {
				pl, _, _, err := s.schedule(ctx, p, conv(p))
				require.NoError(t, err)
				pl.alloc = contract.Allocation{}
				got[k] = append(got[k], pl)
			}
		}
		assert.Equal(t, got[0], got[1], pol)
	}
	q := FullPodObject(tr.Pods[0]).Spec.Containers[0].Resources.Requests["gantry.dev/gpu-percent"]
	assert.Equal(t, int64(25), q.Value())
}

// TestInflationWithLearnedWorkload: FGD measuring against the estimate the
// plugin learns runs to the end, deterministically, within the bound; and
// it is a different run from the one against the trace's workload.
func TestInflationWithLearnedWorkload(t *testing.T) {
	ctx := context.Background()
	run := func(learned bool) *InflationResult {
		r, err := RunInflation(ctx, Config{Trace: smallTrace(), Policy: policy.FGD, Seed: 7, LearnedWorkload: learned})
		require.NoError(t, err)
		r.Wall = 0
		return r
	}
	a, b := run(true), run(true)
	assert.Equal(t, a, b)
	assert.True(t, a.LearnedWorkload)
	assert.GreaterOrEqual(t, a.Bound.Percent(), a.Headline())
	tr := run(false)
	assert.Equal(t, tr.Submitted, a.Submitted, "the same pods are submitted")
	assert.NotEqual(t, tr.Placements, a.Placements, "the plugin placed exactly as with the trace's workload: was the learned estimate used?")
}

// TestInflationWithSchedulerProfile: a run through a profile that adds the
// stock scorers (LeastAllocated spreads host CPU and memory) is a
// different run from the paper's plugin-only profile, on the same pods and
// within the same bound.
func TestInflationWithSchedulerProfile(t *testing.T) {
	const profile = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: gantry-scheduler
    plugins:
      multiPoint:
        enabled:
          - name: GantryDeviceShare
            weight: 1
`
	ctx := context.Background()
	run := func(p string) *InflationResult {
		r, err := RunInflation(ctx, Config{Trace: smallTrace(), Policy: policy.Binpack, Seed: 7, Profile: p})
		require.NoError(t, err)
		return r
	}
	paper, stock := run(""), run(profile)
	assert.Equal(t, paper.Submitted, stock.Submitted)
	assert.GreaterOrEqual(t, stock.Bound.Percent(), stock.Headline())
	assert.NotEqual(t, paper.Placements, stock.Placements, "the stock scorers changed nothing: was the profile used?")
	_, err := RunInflation(ctx, Config{Trace: smallTrace(), Policy: policy.FGD, Seed: 7, Profile: "kind: Nope"})
	require.Error(t, err)
}
