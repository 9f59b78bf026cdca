package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/trace"
)

const testAutoscalerConfig = `apiVersion: gantry.dev/v1alpha1
kind: AutoscalerConfiguration
nodeGroups:
  - name: t4
    template:
      device: {kind: gpu, model: T4, count: 1, memoryMiB: 16384}
      cpu: "8"
      memory: 32Gi
    maxSize: 5
    pricePerHour: 2
scaleDown:
  utilizationThresholdPercent: 50
  unneededTime: 5m
  delayAfterAdd: 1m
expanders: [least-waste, price]
maxNodeProvisionTime: 15m
scanInterval: 10s
`

func autoscaleTrace() trace.Trace {
	gpu := func(name string, milli, from, to int64) trace.Pod {
		return trace.Pod{Name: name, CPUMilli: 1000, MemoryMiB: 100, NumGPU: 1, GPUMilli: milli, Creation: from, Deletion: to, HasTimes: true}
	}
	return trace.Trace{Pods: []trace.Pod{gpu("a", 1000, 5, 605), gpu("b", 500, 5, 305), gpu("c", 500, 5, 305)}}
}

func runAutoscaled(t *testing.T, every bool) *ReplayResult {
	t.Helper()
	c, err := v1alpha1.Load([]byte(testAutoscalerConfig))
	require.NoError(t, err)
	r, err := RunReplay(context.Background(), ReplayConfig{Trace: autoscaleTrace(), Policy: policy.FGD, Seed: 1,
		Autoscale: &AutoscaleConfig{Config: c, BootDelay: time.Minute, EveryTick: every}})
	require.NoError(t, err)
	return r
}

func TestReplayAutoscalerScalesUpAndDown(t *testing.T) {
	r := runAutoscaled(t, false)
	// The pods arrive at 5 on an empty cluster; the loop at 10 asks for two
	// T4 nodes (one whole GPU, two halves); they register after the 60 s
	// boot delay, at 70, and all three pods bind. b and c leave at
	// 70+300 = 370: their node is unneeded from the loop at 370 and removed
	// 5 min later, at 670, when a leaves too; a's node goes at 970.
	assert.Equal(t, 3, r.Bound)
	assert.Equal(t, []int64{70, 70, 70}, []int64{r.Placements[0].Time, r.Placements[1].Time, r.Placements[2].Time})
	assert.Equal(t, r.Placements[1].Node, r.Placements[2].Node)
	assert.NotEqual(t, r.Placements[0].Node, r.Placements[1].Node)
	assert.Equal(t, int64(65), r.Pending.P50)
	assert.Equal(t, 3, r.Pending.Waited)
	s := r.Scaling
	require.NotNil(t, s)
	var got []ScalingEvent
	for _, e := range s.Events {
		e.Node = ""
		got = append(got, e)
	}
	assert.Equal(t, []ScalingEvent{
		{Time: 10, Group: "t4", Op: "request", Size: 0},
		{Time: 10, Group: "t4", Op: "request", Size: 0},
		{Time: 70, Group: "t4", Op: "add", Size: 1},
		{Time: 70, Group: "t4", Op: "add", Size: 2},
		{Time: 670, Group: "t4", Op: "remove", Size: 1},
		{Time: 970, Group: "t4", Op: "remove", Size: 0},
	}, got)
	assert.Equal(t, r.Placements[1].Node, s.Events[4].Node)
	assert.Equal(t, r.Placements[0].Node, s.Events[5].Node)
	require.Len(t, s.Groups, 1)
	g := s.Groups[0]
	assert.Equal(t, 2, g.Added)
	assert.Equal(t, 2, g.Removed)
	assert.Equal(t, 2, g.Peak)
	// Billed from the request: (670-10) + (970-10) node-seconds.
	assert.Equal(t, int64(660+960), g.NodeSeconds)
	assert.InDelta(t, 1620.0/3600*2, s.Cost(), 1e-9)
}

func TestReplayAutoscalerSkippedTicksChangeNothing(t *testing.T) {
	a, b := runAutoscaled(t, false), runAutoscaled(t, true)
	assert.Equal(t, a.Scaling.Events, b.Scaling.Events)
	assert.Equal(t, a.Placements, b.Placements)
	assert.Less(t, a.Scaling.Loops, b.Scaling.Loops)
}
