package simulate

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/klog/v2/ktesting"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
)

func TestScheduleThroughRealFramework(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	c := NewCluster()
	c.AddNode(coretest.MakeNode("t4").CPU(8000, 32768).GPUs("T4", 2, 16384).Obj(), "")
	c.AddNode(coretest.MakeNode("v100").CPU(8000, 32768).GPUs("V100M32", 1, 32768).Obj(), "")
	s, err := NewScheduler(ctx, c, Options{Args: &gantryconfig.DeviceShareArgs{Policy: "Binpack", ZoneSpreadWeight: 70, WorkloadCoveragePercent: 95}})
	require.NoError(t, err)

	got := s.Schedule(ctx, coretest.MakePod("a").GPUPercent(60).Models("V100M32").Requests(1000, 1024).Obj())
	require.Nil(t, got.Status)
	assert.Equal(t, "v100", got.Node)
	a, _, ok, err := contract.AllocationOf(got.Pod)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 60, a.Containers[0].Devices[0].Units)

	// Host CPU is the in-tree NodeResourcesFit's: 9 cores fit nowhere.
	got = s.Schedule(ctx, coretest.MakePod("cpu-hog").GPUPercent(10).Requests(9000, 1024).Obj())
	require.NotNil(t, got.Status)
	assert.Contains(t, got.Status.Message(), "Insufficient cpu")

	// Fill every card; the next share fits nowhere and says why per node.
	for i := 0; i < 5; i++ {
		s.Schedule(ctx, coretest.MakePod(fmt.Sprintf("f%d", i)).GPUPercent(40).Requests(100, 64).Obj())
	}
	got = s.Schedule(ctx, coretest.MakePod("late").GPUPercent(50).Obj())
	require.NotNil(t, got.Status)
	assert.Contains(t, got.Status.Message(), "0/2 nodes are available")
	assert.Contains(t, got.Status.Message(), "no GPU has 50% free")

	used := map[string]int{}
	for _, ni := range c.Nodes() {
		for _, pi := range ni.GetPods() {
			a, _, _, _ := contract.AllocationOf(pi.GetPod())
			for id, u := range a.Units() {
				used[id] += u
			}
		}
	}
	for id, u := range used {
		assert.LessOrEqual(t, u, device.UnitsPerDevice, id)
	}
}

func TestForkIsIndependent(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	c := NewCluster()
	c.AddNode(coretest.MakeNode("n").GPUs("T4", 1, 16384).Obj(), "")
	f := c.Fork()
	s, err := NewScheduler(ctx, f, Options{})
	require.NoError(t, err)
	require.Nil(t, s.Schedule(ctx, coretest.MakePod("p").GPUPercent(100).Obj()).Status)
	ni, _ := c.NodeInfo("n")
	assert.Empty(t, ni.GetPods(), "the original must not see pods bound in a fork")
	fi, _ := f.NodeInfo("n")
	assert.Len(t, fi.GetPods(), 1)
}

// Filtering in parallel places every pod where filtering one node at a time
// does, and explains a pod that fits nowhere the same way.
func TestParallelFilterMatchesSequential(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	build := func(parallelism int) *Scheduler {
		c := NewCluster()
		for i := range ParallelFilterMinNodes + 44 {
			model := []string{"T4", "A100"}[i%2]
			c.AddNode(coretest.MakeNode(fmt.Sprintf("n%03d", i)).CPU(8000, 32768).GPUs(model, 2, 16384).Obj(), "")
		}
		s, err := NewScheduler(ctx, c, Options{Parallelism: parallelism})
		require.NoError(t, err)
		return s
	}
	seq, par := build(1), build(4)
	for i := range 200 {
		pod := coretest.MakePod(fmt.Sprintf("p%03d", i)).GPUPercent(int64(30+10*(i%8))).Models([]string{"T4", "A100"}[i%2]).Requests(500, 512).Obj()
		a, b := seq.Schedule(ctx, pod), par.Schedule(ctx, pod)
		require.Equal(t, a.Node, b.Node, pod.Name)
	}
	big := coretest.MakePod("big").GPUPercent(100).Requests(9000, 1024).Obj()
	a, b := seq.Schedule(ctx, big), par.Schedule(ctx, big)
	require.NotNil(t, a.Status)
	require.NotNil(t, b.Status)
	require.Equal(t, a.Status.Message(), b.Status.Message())
	require.Equal(t, a.Status.Code(), b.Status.Code())
}

// A what-if placement taken back leaves no reservation behind: when the
// real pod (same UID) later arrives bound elsewhere with its own
// allocation, that allocation is what counts.
func TestTakenBackPlacementLeavesNoReservation(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	c := NewCluster()
	c.AddNode(coretest.MakeNode("a").GPUs("T4", 1, 16384).Obj(), "")
	c.AddNode(coretest.MakeNode("b").GPUs("T4", 1, 16384).Obj(), "")
	s, err := NewScheduler(ctx, c, Options{})
	require.NoError(t, err)
	pod := coretest.MakePod("p").GPUPercent(60).Obj()
	r := s.Schedule(ctx, pod)
	require.Nil(t, r.Status)
	require.NoError(t, c.Unbind(r.Pod))

	// The real scheduler put it on the other node, on its only card.
	other := map[string]string{"a": "b", "b": "a"}[r.Node]
	real := r.Pod.DeepCopy()
	real.Spec.NodeName = other
	real.Annotations[contract.AnnotationAllocation] = fmt.Sprintf(`{"v":"v1","node":%q,"containers":[{"container":"main","kind":"gpu","devices":[{"id":"gpu-%s-0","index":0,"units":60}]}]}`, other, other)
	require.NoError(t, c.Bind(real))

	// 50% fits on the first node again, not on the other one.
	got := s.Schedule(ctx, coretest.MakePod("q").GPUPercent(50).Obj())
	require.Nil(t, got.Status)
	assert.Equal(t, r.Node, got.Node)
	got = s.Schedule(ctx, coretest.MakePod("x").GPUPercent(60).Obj())
	assert.NotNil(t, got.Status, "neither card has 60%% left (50%% and 40%%)")
}
