package dra_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	resourceapi "k8s.io/api/resource/v1"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/dra/dratest"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
)

// node has four cards with 0, 60, 30 and 90 percent in use.
func node(t *testing.T) *dra.Node {
	t.Helper()
	c := dra.Build([]*resourceapi.ResourceSlice{dratest.MakeSlice("n1").GPUs("A100", 4, 80<<10).Obj()}, []*resourceapi.ResourceClaim{
		dratest.MakeClaim("ns", "a").Gantry("n1", "r", "gpu-1", 60).Obj(),
		dratest.MakeClaim("ns", "b").Gantry("n1", "r", "gpu-2", 30).Obj(),
		dratest.MakeClaim("ns", "c").Gantry("n1", "r", "gpu-3", 90).Obj(),
	})
	require.Empty(t, c.Problems)
	return c.Nodes["n1"]
}

func TestDeviceOrder(t *testing.T) {
	workload := policy.Workload{{Count: 1, Units: 40, Weight: 0.5}, {Count: 1, Units: 100, Weight: 0.5}}
	tests := []struct {
		name   string
		policy policy.Type
		req    *share.Request
		want   []int
	}{
		// Binpack takes the fullest card that fits: 60% used, then 30%,
		// then the empty one; the card with 10% free cannot take 30%.
		{"binpack share", policy.Binpack, share.Simple(device.GPU, 1, 30), []int{1, 2, 0, 3}},
		{"spread share", policy.Spread, share.Simple(device.GPU, 1, 30), []int{0, 2, 1, 3}},
		// Whole cards go to the free ones, lowest index first.
		{"binpack whole", policy.Binpack, share.Simple(device.GPU, 1, 100), []int{0, 1, 2, 3}},
		{"no request", policy.Binpack, &share.Request{}, []int{0, 1, 2, 3}},
		{"fits nowhere", policy.Binpack, share.Simple(device.NPU, 1, 30), []int{0, 1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := policy.New(tc.policy, policy.Options{Workload: workload})
			require.NoError(t, err)
			n := node(t)
			gen := n.State.Generation
			got := dra.DeviceOrder(n.State, tc.req, s)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			require.Equal(t, gen, n.State.Generation, "DeviceOrder changed the node")
		})
	}
}

// The first device in the order is the one the strategy picks, for every
// policy and share size: this is what makes first-fit take FGD's card.
func TestDeviceOrderLeadsWithTheStrategysPick(t *testing.T) {
	workload := policy.Workload{{Count: 1, Units: 25, Weight: 0.3}, {Count: 1, Units: 50, Weight: 0.3}, {Count: 1, Units: 100, Weight: 0.4}}
	for _, typ := range policy.Types() {
		s, err := policy.New(typ, policy.Options{Workload: workload, Seed: 1})
		require.NoError(t, err)
		for units := 5; units <= 100; units += 5 {
			n := node(t)
			req := share.Simple(device.GPU, 1, units)
			alloc, _, ok := s.Score(n.State, req)
			order := dra.DeviceOrder(n.State, req, s)
			require.Len(t, order, 4)
			if !ok {
				continue
			}
			require.Equal(t, alloc.Containers[0].Devices[0].ID, n.State.Devices[order[0]].ID, "%s, %d%%", typ, units)
		}
	}
}
