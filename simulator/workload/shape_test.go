package workload

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/simulator/trace"
)

// TestShapesOfDefaultTrace checks the anchor's number: the default trace's 8152 pods have 91 shapes, of
// which the 35 most frequent cover >= 95 %.
func TestShapesOfDefaultTrace(t *testing.T) {
	d := Shapes(loadShipped(t, trace.DefaultVariant).Pods, DefaultCoverage)
	require.Equal(t, 8152, d.Pods)
	require.Equal(t, 91, d.Distinct)
	require.Len(t, d.Shapes, 35)
	require.Equal(t, 7766, d.Covered)

	sum, counted := 0.0, 0
	for i, s := range d.Shapes {
		sum += s.Weight
		counted += s.Count
		if i > 0 {
			require.GreaterOrEqual(t, d.Shapes[i-1].Count, s.Count, "most frequent first")
		}
		require.Nil(t, s.Models, "the default trace has no model constraints")
	}
	require.InDelta(t, 1.0, sum, 1e-12)
	require.Equal(t, d.Covered, counted)

	top := Shape{CPUMilli: 3152, GPUMilli: 810, NumGPU: 1, Count: 1047, Weight: 1047.0 / 7766.0}
	if diff := cmp.Diff(top, d.Shapes[0], cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); diff != "" {
		t.Fatalf("most frequent shape (-want,+got):\n%s", diff)
	}
	cpuOnly := Shape{CPUMilli: 12500, Count: 366, Weight: 366.0 / 7766.0}
	if diff := cmp.Diff(cpuOnly, d.Shapes[5], cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); diff != "" {
		t.Fatalf("CPU-only shapes are included (-want,+got):\n%s", diff)
	}
}

func TestShapes(t *testing.T) {
	pod := func(cpu, mem int64, num int, milli int64, spec ...string) trace.Pod {
		p := trace.Pod{CPUMilli: cpu, MemoryMiB: mem, NumGPU: num, GPUMilli: milli}
		if len(spec) > 0 {
			p.GPUSpec = spec
		}
		return p
	}
	repeat := func(n int, p trace.Pod) []trace.Pod {
		out := make([]trace.Pod, n)
		for i := range out {
			out[i] = p
		}
		return out
	}
	concat := func(lists ...[]trace.Pod) []trace.Pod {
		var out []trace.Pod
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	tests := []struct {
		name     string
		pods     []trace.Pod
		coverage float64
		want     []Shape
	}{
		{name: "no pods", pods: nil, coverage: 0.95, want: []Shape{}},
		{
			name:     "memory is not part of the key",
			pods:     []trace.Pod{pod(1000, 1, 1, 500), pod(1000, 99, 1, 500)},
			coverage: 1,
			want:     []Shape{{CPUMilli: 1000, GPUMilli: 500, NumGPU: 1, Weight: 1, Count: 2}},
		},
		{
			name:     "the model list is part of the key, in its order",
			pods:     []trace.Pod{pod(1, 0, 1, 500, "A", "B"), pod(1, 0, 1, 500, "B", "A"), pod(1, 0, 1, 500, "A", "B"), pod(1, 0, 1, 500)},
			coverage: 1,
			want: []Shape{
				{CPUMilli: 1, GPUMilli: 500, NumGPU: 1, Models: []string{"A", "B"}, Weight: 0.5, Count: 2},
				{CPUMilli: 1, GPUMilli: 500, NumGPU: 1, Models: []string{"B", "A"}, Weight: 0.25, Count: 1},
				{CPUMilli: 1, GPUMilli: 500, NumGPU: 1, Weight: 0.25, Count: 1},
			},
		},
		{
			name: "ties: larger CPU, then larger GPU share, then more GPUs first",
			pods: []trace.Pod{
				pod(1000, 0, 1, 500), pod(2000, 0, 0, 0), pod(1000, 0, 1, 1000), pod(1000, 0, 2, 1000),
			},
			coverage: 1,
			want: []Shape{
				{CPUMilli: 2000, Weight: 0.25, Count: 1},
				{CPUMilli: 1000, GPUMilli: 1000, NumGPU: 2, Weight: 0.25, Count: 1},
				{CPUMilli: 1000, GPUMilli: 1000, NumGPU: 1, Weight: 0.25, Count: 1},
				{CPUMilli: 1000, GPUMilli: 500, NumGPU: 1, Weight: 0.25, Count: 1},
			},
		},
		{
			name:     "keep shapes until the cut is reached, then renormalise",
			pods:     concat(repeat(6, pod(1, 0, 0, 0)), repeat(3, pod(2, 0, 0, 0)), repeat(1, pod(3, 0, 0, 0))),
			coverage: 0.9, // 6 < 9, 6+3 = 9 >= 9: two shapes
			want: []Shape{
				{CPUMilli: 1, Weight: 6.0 / 9.0, Count: 6},
				{CPUMilli: 2, Weight: 3.0 / 9.0, Count: 3},
			},
		},
		{
			name:     "a coverage of 0 still keeps the most frequent shape",
			pods:     concat(repeat(2, pod(1, 0, 0, 0)), repeat(1, pod(2, 0, 0, 0))),
			coverage: 0,
			want:     []Shape{{CPUMilli: 1, Weight: 1, Count: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Shapes(tt.pods, tt.coverage).Shapes
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); diff != "" {
				t.Fatalf("shapes (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestShapesDoesNotAliasInput(t *testing.T) {
	pods := []trace.Pod{{Name: "p", CPUMilli: 1, NumGPU: 1, GPUMilli: 500, GPUSpec: []string{"T4"}}}
	d := Shapes(pods, 1)
	d.Shapes[0].Models[0] = "A10"
	require.Equal(t, "T4", pods[0].GPUSpec[0])
}
