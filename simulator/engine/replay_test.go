package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/trace"
)

type countingAutoscaler struct{ calls []time.Time }

func (c *countingAutoscaler) RunOnce(_ context.Context, now time.Time) error {
	c.calls = append(c.calls, now)
	return nil
}

func TestReplayQueuesUntilCapacityFrees(t *testing.T) {
	tr := trace.Trace{
		Nodes: []trace.Node{{Name: "n", CPUMilli: 8000, MemoryMiB: 8192, GPUs: 1, Model: "T4"}},
		Pods: []trace.Pod{
			{Name: "a", CPUMilli: 1000, MemoryMiB: 10, NumGPU: 1, GPUMilli: 1000, Creation: 0, Deletion: 10, HasTimes: true},
			{Name: "b", CPUMilli: 1000, MemoryMiB: 10, NumGPU: 1, GPUMilli: 600, Creation: 5, Deletion: 8, HasTimes: true},
			{Name: "c", CPUMilli: 1000, MemoryMiB: 10, NumGPU: 1, GPUMilli: 400, Creation: 6, Deletion: 30, HasTimes: true},
			{Name: "d", CPUMilli: 1000, MemoryMiB: 10, NumGPU: 1, GPUMilli: 500, Creation: 7, Deletion: 9, HasTimes: true},
		},
	}
	as := &countingAutoscaler{}
	r, err := RunReplay(context.Background(), ReplayConfig{Trace: tr, Policy: policy.FGD, Seed: 1, Autoscaler: as})
	require.NoError(t, err)
	// a runs 0..10. b (60 %) and c (40 %) wait until 10 and then both fit;
	// d (50 %) waits until b leaves at 10+3 = 13.
	assert.Equal(t, 4, r.Bound)
	assert.Equal(t, 0, r.NeverBound)
	assert.Equal(t, []int64{0, 10, 10, 13}, []int64{r.Placements[0].Time, r.Placements[1].Time, r.Placements[2].Time, r.Placements[3].Time})
	assert.Equal(t, 3, r.Pending.Waited)
	assert.Equal(t, int64(6), r.Pending.Max)
	assert.InDelta(t, (0+5+4+6)/4.0, r.Pending.Mean, 1e-9)
	assert.Equal(t, []time.Time{Epoch.Add(5 * time.Second), Epoch.Add(6 * time.Second), Epoch.Add(7 * time.Second), Epoch.Add(10 * time.Second)}, as.calls)
}

func TestSharingGainKnownAnswer(t *testing.T) {
	tr := trace.Trace{}
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		tr.Nodes = append(tr.Nodes, trace.Node{Name: n, CPUMilli: 64000, MemoryMiB: 65536, GPUs: 1, Model: "T4"})
	}
	// Four quarter-GPU pods and one whole-GPU pod: 2 GPUs with sharing,
	// 5 without.
	for _, p := range []string{"a", "b", "c", "d"} {
		tr.Pods = append(tr.Pods, trace.Pod{Name: p, CPUMilli: 1000, MemoryMiB: 100, NumGPU: 1, GPUMilli: 250})
	}
	tr.Pods = append(tr.Pods, trace.Pod{Name: "e", CPUMilli: 1000, MemoryMiB: 100, NumGPU: 1, GPUMilli: 1000})
	r, err := RunSharingGain(context.Background(), SharingConfig{Trace: tr, Policy: policy.BestFit, Seed: 3})
	require.NoError(t, err)
	assert.Equal(t, 2, r.SharedGPUs)
	assert.Equal(t, 5, r.WholeGPUs)
	assert.InDelta(t, 2.5, r.Ratio, 1e-9)
}
