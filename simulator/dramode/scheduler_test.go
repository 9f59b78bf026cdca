package dramode

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/simulate"
)

// cards returns n A100s of node.
func cards(node string, n int) device.Inventory {
	var inv device.Inventory
	for i := 0; i < n; i++ {
		inv.Devices = append(inv.Devices, device.Device{ID: fmt.Sprintf("%s-uuid-%d", node, i), Index: i, Kind: device.GPU, Vendor: "nvidia", Model: "A100", MemoryMiB: 81920, Health: device.Healthy, NUMANode: device.NoNUMA})
	}
	return inv
}

func newScheduler(t *testing.T, choice simulate.DRAChoice, nodes ...string) *Scheduler {
	t.Helper()
	c := simulate.NewCluster()
	s, err := New(context.Background(), c, Options{Choice: choice, Args: &gantryconfig.DeviceShareArgs{
		Policy: policy.FGD, Workload: []policy.Shape{{Kind: device.GPU, Count: 1, Units: 25, Weight: 1}, {Kind: device.GPU, Count: 1, Units: 100, Weight: 1}},
	}})
	require.NoError(t, err)
	for _, n := range nodes {
		c.AddNode(coretest.MakeNode(n).Obj(), "")
		s.AddNode(n, cards(n, 2))
	}
	return s
}

// A card 60 % used and one 75 % used: a 25 % share completes the second
// under GantryDRA's FGD card order, and goes to the first card, upstream's
// first fit, under the two other choices. The allocation read from the
// claim names the card, and releasing a pod frees its share.
func TestChoicesPickCards(t *testing.T) {
	tests := []struct {
		name   string
		choice simulate.DRAChoice
		want   int // card of the 25 % share
	}{
		{"GantryDRA: FGD's card", simulate.DRAGantry, 1},
		{"FGD node score, first-fit card", simulate.DRAFirstFit, 0},
		{"stock DynamicResources", simulate.DRAStock, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newScheduler(t, tt.choice, "a")
			for i, pct := range []int64{60, 75} {
				r, err := s.Schedule(ctx, coretest.MakePod(fmt.Sprint("p", i)).GPUPercent(pct).Obj())
				require.NoError(t, err)
				require.Equal(t, "a", r.Node)
				want := contract.Allocation{Node: "a", Containers: []contract.ContainerAllocation{{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: fmt.Sprint("a-uuid-", i), Index: i, Units: int(pct)}}}}}
				if d := cmp.Diff(want, r.Allocation); d != "" {
					t.Fatalf("pod p%d (-want,+got):\n%s", i, d)
				}
			}
			r, err := s.Schedule(ctx, coretest.MakePod("share").GPUPercent(25).Obj())
			require.NoError(t, err)
			require.Equal(t, []contract.DeviceShare{{ID: fmt.Sprint("a-uuid-", tt.want), Index: tt.want, Units: 25}}, r.Allocation.Containers[0].Devices)

			// 60 % more fits neither card now (60 and 100, or 85 and 75).
			r, err = s.Schedule(ctx, coretest.MakePod("big").GPUPercent(60).Obj())
			require.NoError(t, err)
			require.Empty(t, r.Node)
			require.NotNil(t, r.Status)
			_, ok := s.mem.Claim("default", "big-gantry-main")
			require.False(t, ok, "a pod that fits nowhere leaves no claim behind")
		})
	}
}

// A released claim frees its share for the next pod.
func TestReleaseFrees(t *testing.T) {
	ctx := context.Background()
	s := newScheduler(t, simulate.DRAGantry, "a")
	var bound []*Result
	for i := 0; i < 2; i++ {
		r, err := s.Schedule(ctx, coretest.MakePod(fmt.Sprint("w", i)).GPUPercent(100).Obj())
		require.NoError(t, err)
		require.Equal(t, "a", r.Node)
		bound = append(bound, &r)
	}
	r, err := s.Schedule(ctx, coretest.MakePod("late").GPUPercent(100).Obj())
	require.NoError(t, err)
	require.Empty(t, r.Node, "both cards are held")
	s.Release(bound[0].Pod)
	r, err = s.Schedule(ctx, coretest.MakePod("late").GPUPercent(100).Obj())
	require.NoError(t, err)
	require.Equal(t, "a", r.Node)
	require.Equal(t, bound[0].Allocation.Containers[0].Devices, r.Allocation.Containers[0].Devices, "the freed card")
}

// A pod that asks no device binds without a claim; a malformed one is an
// error naming the pod.
func TestScheduleWithoutClaimAndErrors(t *testing.T) {
	ctx := context.Background()
	s := newScheduler(t, simulate.DRAGantry, "a")
	r, err := s.Schedule(ctx, coretest.MakePod("cpu").Requests(1000, 512).Obj())
	require.NoError(t, err)
	require.Equal(t, "a", r.Node)
	require.Empty(t, r.Allocation.Containers)
	require.Empty(t, r.Pod.Spec.ResourceClaims)
	_, err = s.Schedule(ctx, coretest.MakePod("bad").GPUPercent(250).Obj())
	require.ErrorContains(t, err, "pod default/bad")
}
