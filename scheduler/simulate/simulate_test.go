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
