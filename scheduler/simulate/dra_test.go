package simulate

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/dra/dratest"
	"github.com/gantry-dev/gantry/scheduler/dra"
)

// claimPod returns a pod using claim name (already in mem) by name.
func claimPod(name string) *corev1.Pod {
	p := coretest.MakePod(name).Requests(100, 64).Obj()
	p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: ptr.To(name)}}
	p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
	return p
}

// With DRA objects, the framework runs GantryDRA: shares of claims are
// allocated on the nodes' published cards, each card within 100 percent,
// and taken as made when the pod binds; a pod whose claim fits no card
// gets the allocator's reason.
func TestScheduleDRAClaims(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	c := NewCluster()
	mem := dra.NewMemory()
	mem.AddClass(dratest.DeviceClass(device.GPU))
	for _, n := range []string{"a", "b"} {
		c.AddNode(coretest.MakeNode(n).CPU(8000, 32768).Obj(), "")
		mem.AddSlice(dratest.MakeSlice(n).GPUs("A100", 2, 80<<10).Obj())
	}
	s, err := NewScheduler(ctx, c, Options{DRA: mem})
	require.NoError(t, err)

	sizes := []int64{60, 50, 40, 30, 70, 50}
	for i, pct := range sizes {
		name := fmt.Sprintf("p%d", i)
		mem.AddClaim(dratest.MakeClaim("default", name).Share("gpu", "gpu.gantry.dev", pct).Obj())
		got := s.Schedule(ctx, claimPod(name))
		require.Nil(t, got.Status, "%s (%d%%)", name, pct)
		cl, ok := mem.Claim("default", name)
		require.True(t, ok)
		require.NotNil(t, cl.Status.Allocation, "%s: the allocation is taken as made at bind", name)
		require.Equal(t, got.Node, cl.Status.Allocation.Devices.Results[0].Pool)
		require.Equal(t, "p"+fmt.Sprint(i), cl.Status.ReservedFor[0].Name)
	}
	// 300 of 400 percent are held, yet no card has 60 free.
	mem.AddClaim(dratest.MakeClaim("default", "late").Share("gpu", "gpu.gantry.dev", 60).Obj())
	got := s.Schedule(ctx, claimPod("late"))
	require.NotNil(t, got.Status)
	assert.Contains(t, got.Status.Message(), "0/2 nodes are available")

	slices, _, claims := mem.Objects()
	cluster := coredra.Build(slices, claims)
	require.Empty(t, cluster.Problems)
	total := 0
	for _, n := range cluster.Nodes {
		for _, d := range n.State.Devices {
			assert.LessOrEqual(t, d.Used, device.UnitsPerDevice, d.ID)
			total += d.Used
		}
	}
	assert.Equal(t, 300, total)

	// A pod without claims still goes through GantryDeviceShare's path.
	got = s.Schedule(ctx, coretest.MakePod("plain").Requests(100, 64).Obj())
	require.Nil(t, got.Status)
}

// enableDRA swaps DynamicResources for GantryDRA, once.
func TestEnableDRA(t *testing.T) {
	p, err := LoadProfile(DefaultProfile)
	require.NoError(t, err)
	has := func(name string) bool {
		for _, pl := range p.Plugins.MultiPoint.Enabled {
			if pl.Name == name {
				return true
			}
		}
		return false
	}
	require.True(t, has(dynamicResources), "the defaulted profile enables DynamicResources")
	enableDRA(p)
	enableDRA(p)
	assert.True(t, has(dra.Name))
	assert.False(t, has(dynamicResources))
	n := 0
	for _, pl := range p.Plugins.MultiPoint.Enabled {
		if pl.Name == dra.Name {
			n++
		}
	}
	assert.Equal(t, 1, n)
}
