package estimator

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra/dratest"
	"github.com/gantry-dev/gantry/scheduler/dra"
	"github.com/gantry-dev/gantry/scheduler/simulate"
)

func group(name, model string, count int) config.NodeGroup {
	return config.NodeGroup{Name: name, MaxSize: 100, Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: model, Count: count, MemoryMiB: 16384},
		CPU:    resource.MustParse("64"), Memory: resource.MustParse("512Gi"), Pods: 110,
	}}
}

func templateOf(g config.NodeGroup) func(string) (simulator.NodeInfo, error) {
	return func(name string) (simulator.NodeInfo, error) {
		n, err := cloudprovider.BuildNode(g, name)
		return simulator.NodeInfo{Node: n, Slices: cloudprovider.TemplateSlices(g, name)}, err
	}
}

func pods(n int, percent int64, model string) []*corev1.Pod {
	var out []*corev1.Pod
	for i := 0; i < n; i++ {
		w := coretest.MakePod(fmt.Sprintf("p%d-%d", percent, i)).GPUPercent(percent).Requests(100, 128)
		if model != "" {
			w = w.Models(model)
		}
		out = append(out, w.Obj())
	}
	return out
}

func TestEstimate(t *testing.T) {
	tests := []struct {
		name          string
		group         config.NodeGroup
		pods          []*corev1.Pod
		maxNodes      int
		wantNodes     int
		wantScheduled int
		wantUnfit     string
		scalarNodes   int // what the node-level baseline says, for contrast
	}{
		{name: "ten 60% shares need ten cards, not six", group: group("t4x1", "T4", 1), pods: pods(10, 60, ""), maxNodes: 100,
			wantNodes: 10, wantScheduled: 10, scalarNodes: 10},
		{name: "ten 60% shares on 4-card nodes need three nodes, not two", group: group("t4x4", "T4", 4), pods: pods(10, 60, ""), maxNodes: 100,
			wantNodes: 3, wantScheduled: 10, scalarNodes: 2},
		{name: "mixed sizes pack per card", group: group("a100x2", "A100", 2),
			pods: append(append(pods(4, 70, ""), pods(4, 30, "")...), pods(2, 50, "")...), maxNodes: 100,
			wantNodes: 3, wantScheduled: 10, scalarNodes: 3},
		{name: "a T4-only pod never triggers an A100 node", group: group("a100x8", "A100", 8), pods: pods(3, 30, "T4"), maxNodes: 100,
			wantNodes: 0, wantScheduled: 0, wantUnfit: "0/1 nodes are available", scalarNodes: 0},
		{name: "node cap", group: group("t4x1", "T4", 1), pods: pods(10, 100, ""), maxNodes: 4,
			wantNodes: 4, wantScheduled: 4, scalarNodes: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			base, err := simulator.NewShareSnapshot(ctx, simulate.Options{})
			require.NoError(t, err)
			e := &BinpackingEstimator{Base: base, Prefix: "est"}
			res, err := e.Estimate(ctx, tt.pods, templateOf(tt.group), tt.maxNodes)
			require.NoError(t, err)
			assert.Len(t, res.Nodes, tt.wantNodes)
			assert.Len(t, res.Scheduled, tt.wantScheduled)
			if tt.wantUnfit != "" {
				require.Len(t, res.Unfit, len(tt.pods))
				for _, r := range res.Unfit {
					assert.Contains(t, r, tt.wantUnfit)
					assert.Contains(t, r, "T4")
				}
			} else {
				assert.Empty(t, res.Unfit)
			}
			scalar := &BinpackingEstimator{Base: simulator.NewScalarSnapshot(), Prefix: "est"}
			sres, err := scalar.Estimate(ctx, tt.pods, templateOf(tt.group), tt.maxNodes)
			require.NoError(t, err)
			assert.Len(t, sres.Nodes, tt.scalarNodes, "baseline")
		})
	}
}

func TestEstimateIsTimeCapped(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	base, err := simulator.NewShareSnapshot(ctx, simulate.Options{})
	require.NoError(t, err)
	now := time.Unix(0, 0)
	e := &BinpackingEstimator{Base: base, Prefix: "est", MaxDuration: 3 * time.Second,
		Now: func() time.Time { now = now.Add(time.Second); return now }}
	res, err := e.Estimate(ctx, pods(10, 100, ""), templateOf(group("t4x1", "T4", 1)), 100)
	require.NoError(t, err)
	assert.True(t, res.Capped)
	assert.Less(t, len(res.Nodes), 10, "no new node once the time is up")
	assert.NotEmpty(t, res.Nodes)
}

// In DRA mode pods ask shares through claims; the estimate places them on
// template nodes whose only Gantry devices are in the slices the group's
// agent would publish, card by card through GantryDRA: the packing
// minimum of four-card nodes, every card within 100 percent. A claim
// larger than a card fits no template node and is reported unfit.
func TestEstimateDRAClaims(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	g := group("a100", "A100", 4)
	g.Template.Device.Mode = config.DeviceModeDRA
	mem := dra.NewMemory()
	mem.AddClass(dratest.DeviceClass(device.GPU))
	var in []*corev1.Pod
	// 6 x 60 + 6 x 40 + 4 x 100 = 10 cards: three four-card nodes.
	for i, pct := range []int64{60, 40, 60, 40, 60, 40, 100, 60, 40, 100, 60, 40, 100, 60, 40, 100} {
		name := fmt.Sprintf("p%02d", i)
		mem.AddClaim(dratest.MakeClaim("default", name).Share("gpu", "gpu.gantry.dev", pct).Obj())
		in = append(in, claimPod(name))
	}
	mem.AddClaim(dratest.MakeClaim("default", "huge").Request("gpu", "gpu.gantry.dev", 5, 0).Obj())
	in = append(in, claimPod("huge"))
	base, err := simulator.NewShareSnapshot(ctx, simulate.Options{DRA: mem})
	require.NoError(t, err)
	e := &BinpackingEstimator{Base: base, Prefix: "est"}
	res, err := e.Estimate(ctx, in, templateOf(g), 100)
	require.NoError(t, err)
	assert.Len(t, res.Nodes, 3)
	assert.Len(t, res.Scheduled, 16)
	require.Contains(t, res.Unfit, "default/huge")
	for _, n := range res.Nodes {
		assert.Empty(t, n.Node.Annotations[contract.AnnotationInventory], "a DRA template node has no inventory annotation")
	}
	_, _, claims := mem.Objects()
	for _, c := range claims {
		assert.Nil(t, c.Status.Allocation, "the estimate allocates in its own snapshot, never in the base's objects")
	}
}

// claimPod returns a pod using the claim of its name.
func claimPod(name string) *corev1.Pod {
	p := coretest.MakePod(name).Requests(100, 128).Obj()
	p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: ptr.To(name)}}
	p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
	return p
}
