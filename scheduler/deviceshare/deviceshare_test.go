package deviceshare

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	kubeschedulerscheme "k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultbinder"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	tf "k8s.io/kubernetes/pkg/scheduler/testing/framework"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
)

// cluster is a tiny in-memory cluster that schedules one pod at a time
// through a real framework with the plugin, the way kube-scheduler would.
type cluster struct {
	t     *testing.T
	nodes []*v1.Node
	pods  []*v1.Pod
	args  runtime.Object
}

type outcome struct {
	node   string
	alloc  contract.Allocation
	status *fwk.Status
}

func (c *cluster) schedule(pod *v1.Pod) outcome {
	t := c.t
	_, ctx := ktesting.NewTestContext(t)
	client := fake.NewSimpleClientset(pod)
	snapshot := cache.NewSnapshot(c.pods, c.nodes)
	fh, err := tf.NewFramework(ctx, []tf.RegisterPluginFunc{
		tf.RegisterQueueSortPlugin(queuesort.Name, queuesort.New),
		tf.RegisterBindPlugin(defaultbinder.Name, defaultbinder.New),
		tf.RegisterPluginAsExtensions(Name, func(ctx context.Context, _ runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			return New(ctx, c.args, h)
		}, "PreFilter", "Filter", "PreScore", "Score", "Reserve", "PreBind"),
	}, "gantry-scheduler", frameworkruntime.WithSnapshotSharedLister(snapshot), frameworkruntime.WithClientSet(client))
	require.NoError(t, err)

	cs := framework.NewCycleState()
	nodeInfos, err := snapshot.NodeInfos().List()
	require.NoError(t, err)
	if _, st, _ := fh.RunPreFilterPlugins(ctx, cs, pod); !st.IsSuccess() {
		return outcome{status: st}
	}
	var feasible []fwk.NodeInfo
	var reasons []string
	code := fwk.UnschedulableAndUnresolvable
	for _, ni := range nodeInfos {
		st := fh.RunFilterPlugins(ctx, cs, pod, ni)
		if st.IsSuccess() {
			feasible = append(feasible, ni)
			continue
		}
		if st.Code() != fwk.UnschedulableAndUnresolvable {
			code = st.Code()
		}
		reasons = append(reasons, ni.Node().Name+": "+st.Message())
	}
	if len(feasible) == 0 {
		return outcome{status: fwk.NewStatus(code, strings.Join(reasons, "; "))}
	}
	require.True(t, fh.RunPreScorePlugins(ctx, cs, pod, feasible).IsSuccess())
	scores, st := fh.RunScorePlugins(ctx, cs, pod, feasible)
	require.True(t, st.IsSuccess(), st.Message())
	sort.SliceStable(scores, func(i, j int) bool {
		if scores[i].TotalScore != scores[j].TotalScore {
			return scores[i].TotalScore > scores[j].TotalScore
		}
		return scores[i].Name < scores[j].Name
	})
	node := scores[0].Name
	require.True(t, fh.RunReservePluginsReserve(ctx, cs, pod, node).IsSuccess())
	require.True(t, fh.RunPreBindPlugins(ctx, cs, pod, node).IsSuccess())
	bound, err := client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	require.NoError(t, err)
	bound.Spec.NodeName = node
	alloc, src, ok, err := contract.AllocationOf(bound)
	require.NoError(t, err)
	if req, _ := share.Parse(pod); !req.Empty() {
		require.True(t, ok, "PreBind wrote no allocation")
		require.Equal(t, contract.FromScheduler, src)
	}
	c.pods = append(c.pods, bound)
	return outcome{node: node, alloc: alloc}
}

func (c *cluster) usedPerDevice() map[string]int {
	used := map[string]int{}
	for _, p := range c.pods {
		a, _, ok, err := contract.AllocationOf(p)
		require.NoError(c.t, err)
		if ok {
			for id, u := range a.Units() {
				used[id] += u
			}
		}
	}
	return used
}

func argsYAML(policy string) runtime.Object {
	return &runtime.Unknown{Raw: []byte(fmt.Sprintf(`{"apiVersion":"gantry.dev/v1alpha1","kind":"DeviceShareArgs","policy":%q}`, policy)), ContentType: runtime.ContentTypeJSON}
}

func TestSharesLandOnAllowedModel(t *testing.T) {
	c := &cluster{t: t, args: argsYAML("Binpack"), nodes: []*v1.Node{
		coretest.MakeNode("a100").Zone("z1").GPUs("A100", 2, 81920).Obj(),
		coretest.MakeNode("t4").Zone("z1").GPUs("T4", 4, 16384).Obj(),
		coretest.MakeNode("cpu").Zone("z1").Obj(),
	}}
	got := c.schedule(coretest.MakePod("p1").GPUPercent(30).Models("T4").Obj())
	require.Nil(t, got.status)
	assert.Equal(t, "t4", got.node)
	require.Len(t, got.alloc.Containers, 1)
	assert.Equal(t, 30, got.alloc.Containers[0].Devices[0].Units)

	// Binpack puts the next share on the same card.
	got2 := c.schedule(coretest.MakePod("p2").GPUPercent(50).Models("T4|V100M16").Obj())
	require.Nil(t, got2.status)
	assert.Equal(t, "t4", got2.node)
	assert.Equal(t, got.alloc.Containers[0].Devices[0].ID, got2.alloc.Containers[0].Devices[0].ID)

	got3 := c.schedule(coretest.MakePod("p3").GPUPercent(200).Models("A100").Obj())
	require.Nil(t, got3.status)
	assert.Equal(t, "a100", got3.node)
	assert.Len(t, got3.alloc.Containers[0].Devices, 2)
}

func TestReplicasSpreadAcrossZones(t *testing.T) {
	c := &cluster{t: t, args: argsYAML("Binpack"), nodes: []*v1.Node{
		coretest.MakeNode("a1").Zone("za").GPUs("A100", 8, 81920).Obj(),
		coretest.MakeNode("b1").Zone("zb").GPUs("A100", 8, 81920).Obj(),
	}}
	// Some unrelated load makes a1 the binpacking favourite.
	require.Equal(t, "a1", c.schedule(coretest.MakePod("other").GPUPercent(300).Obj()).node)
	first := c.schedule(coretest.MakePod("web-0").GPUPercent(25).Workload("web").Obj())
	second := c.schedule(coretest.MakePod("web-1").GPUPercent(25).Workload("web").Obj())
	require.Nil(t, first.status)
	require.Nil(t, second.status)
	assert.NotEqual(t, first.node, second.node, "replicas of one workload must land in different zones")
}

func TestReplicasNeverShareADevice(t *testing.T) {
	c := &cluster{t: t, args: argsYAML("Binpack"), nodes: []*v1.Node{
		coretest.MakeNode("a1").Zone("za").GPUs("A100", 2, 81920).Obj(),
	}}
	first := c.schedule(coretest.MakePod("web-0").GPUPercent(25).Workload("web").Obj())
	second := c.schedule(coretest.MakePod("web-1").GPUPercent(25).Workload("web").Obj())
	require.Nil(t, second.status)
	assert.NotEqual(t, first.alloc.Containers[0].Devices[0].ID, second.alloc.Containers[0].Devices[0].ID)
	third := c.schedule(coretest.MakePod("web-2").GPUPercent(25).Workload("web").Obj())
	require.NotNil(t, third.status)
	assert.Contains(t, third.status.Message(), "already holds a replica of the same workload")
	shared := c.schedule(coretest.MakePod("web-3").GPUPercent(25).Workload("web").Annotation(contract.AnnotationAllowSharedDevice, "true").Obj())
	assert.Nil(t, shared.status)
}

func TestRejections(t *testing.T) {
	nodes := []*v1.Node{
		coretest.MakeNode("t4").GPUs("T4", 2, 16384).Obj(),
		coretest.MakeNode("broken").RawInventory(`{"version":"v1","devices":[{"id":"x"`).Obj(),
	}
	tests := []struct {
		name         string
		pod          *v1.Pod
		code         fwk.Code
		wantContains string
	}{
		{"malformed percent", coretest.MakePod("p").GPUPercent(150).Obj(), fwk.UnschedulableAndUnresolvable, "1.50 devices"},
		{"garbage models", coretest.MakePod("p").GPUPercent(10).Models("T4;rm").Obj(), fwk.UnschedulableAndUnresolvable, `model "T4;rm" is not a valid model name`},
		{"model nowhere", coretest.MakePod("p").GPUPercent(10).Models("H100").Obj(), fwk.UnschedulableAndUnresolvable, "node has no GPU of model H100"},
		{"too many devices", coretest.MakePod("p").GPUPercent(400).Obj(), fwk.UnschedulableAndUnresolvable, "node has 2 GPU"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &cluster{t: t, args: argsYAML("Binpack"), nodes: nodes}
			got := c.schedule(tc.pod)
			require.NotNil(t, got.status)
			assert.Equal(t, tc.code, got.status.Code(), got.status.Message())
			assert.Contains(t, got.status.Message(), tc.wantContains)
		})
	}
}

func TestBrokenInventoryIsReportedPerNode(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	pl, err := NewWithArgs(ctx, mustDefaults(t), nil)
	require.NoError(t, err)
	cs := framework.NewCycleState()
	pod := coretest.MakePod("p").GPUPercent(10).Obj()
	_, st := pl.PreFilter(ctx, cs, pod, nil)
	require.True(t, st.IsSuccess())
	ni := framework.NewNodeInfo()
	ni.SetNode(coretest.MakeNode("broken").RawInventory(`{"version":"v9","devices":[]}`).Obj())
	st = pl.Filter(ctx, cs, pod, ni)
	assert.Equal(t, fwk.UnschedulableAndUnresolvable, st.Code())
	assert.Contains(t, st.Message(), `node "broken": invalid gantry.dev/inventory annotation: version "v9" is not supported`)
}

func TestManyPodsNeverOvercommit(t *testing.T) {
	for _, policy := range []string{"Binpack", "Spread", "FGD", "BestFit", "GPUPacking"} {
		t.Run(policy, func(t *testing.T) {
			c := &cluster{t: t, args: argsYAML(policy), nodes: []*v1.Node{
				coretest.MakeNode("n1").GPUs("A100", 4, 81920).Obj(),
				coretest.MakeNode("n2").GPUs("A100", 4, 81920).Obj(),
			}}
			sizes := []int64{30, 45, 10, 70, 25, 100, 5, 60}
			placed := 0
			for i := 0; i < 40; i++ {
				if c.schedule(coretest.MakePod(fmt.Sprintf("p%d", i)).GPUPercent(sizes[i%len(sizes)]).Obj()).status == nil {
					placed++
				}
			}
			for id, u := range c.usedPerDevice() {
				assert.LessOrEqual(t, u, device.UnitsPerDevice, "device %s over-committed", id)
			}
			assert.Greater(t, placed, 10)
		})
	}
}

func TestReservationVisibleBeforeAnnotation(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	node := coretest.MakeNode("n1").GPUs("T4", 1, 16384).Obj()
	first := coretest.MakePod("first").GPUPercent(60).Obj()
	snapshot := cache.NewSnapshot(nil, []*v1.Node{node})
	fh, err := tf.NewFramework(ctx, []tf.RegisterPluginFunc{
		tf.RegisterQueueSortPlugin(queuesort.Name, queuesort.New),
		tf.RegisterBindPlugin(defaultbinder.Name, defaultbinder.New),
		tf.RegisterPluginAsExtensions(Name, New, "PreFilter", "Filter", "Score", "Reserve"),
	}, "gantry-scheduler", frameworkruntime.WithSnapshotSharedLister(snapshot))
	require.NoError(t, err)
	pl := fh.ListPlugins() // keep the framework honest about what is enabled
	require.NotNil(t, pl)

	cs := framework.NewCycleState()
	_, st, _ := fh.RunPreFilterPlugins(ctx, cs, first)
	require.True(t, st.IsSuccess())
	require.True(t, fh.RunReservePluginsReserve(ctx, cs, first, "n1").IsSuccess())

	// The next cycle sees "first" on the node (assumed by kube-scheduler's
	// cache) without its annotation: the reservation must still count.
	assumed := first.DeepCopy()
	assumed.Spec.NodeName = "n1"
	ni := framework.NewNodeInfo(assumed)
	ni.SetNode(node)
	second := coretest.MakePod("second").GPUPercent(50).Obj()
	cs2 := framework.NewCycleState()
	_, st, _ = fh.RunPreFilterPlugins(ctx, cs2, second)
	require.True(t, st.IsSuccess())
	st = fh.RunFilterPlugins(ctx, cs2, second, ni)
	require.False(t, st.IsSuccess())
	assert.Contains(t, st.Message(), "no GPU has 50% free (most free: 40%)")

	// Unreserve frees the card.
	fh.RunReservePluginsUnreserve(ctx, cs, first, "n1")
	ni2 := framework.NewNodeInfo(assumed)
	ni2.SetNode(node)
	assert.True(t, fh.RunFilterPlugins(ctx, cs2, second, ni2).IsSuccess())
}

func TestShippedSchedulerConfigDecodes(t *testing.T) {
	raw, err := os.ReadFile("../../manifests/scheduler/scheduler-config.yaml")
	require.NoError(t, err)
	obj, _, err := kubeschedulerscheme.Codecs.UniversalDecoder().Decode(raw, nil, nil)
	require.NoError(t, err)
	cfg := obj.(*config.KubeSchedulerConfiguration)
	require.Len(t, cfg.Profiles, 1)
	assert.Equal(t, contract.SchedulerName, cfg.Profiles[0].SchedulerName)
	var args runtime.Object
	for _, pc := range cfg.Profiles[0].PluginConfig {
		if pc.Name == Name {
			args = pc.Args
		}
	}
	require.NotNil(t, args)
	decoded, err := decodeArgs(args)
	require.NoError(t, err)
	assert.Equal(t, "FGD", string(decoded.Policy))
	assert.Equal(t, int32(70), decoded.ZoneSpreadWeight)
	assert.Equal(t, int32(95), decoded.WorkloadCoveragePercent)
	assert.Equal(t, "Bind", decoded.WriteAllocation)
	var binders []string
	for _, p := range cfg.Profiles[0].Plugins.Bind.Enabled {
		binders = append(binders, p.Name)
	}
	assert.Equal(t, []string{Name, "DefaultBinder"}, binders, "with writeAllocation: Bind the plugin must bind before DefaultBinder")
}

func TestArgsErrors(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"unknown field", `{"policy":"FGD","polcy":"x"}`, `unknown field "polcy"`},
		{"bad policy", `{"policy":"Tetris"}`, `pluginConfig[GantryDeviceShare].args.policy: Unsupported value: "Tetris"`},
		{"weight out of range", `{"zoneSpreadWeight":120}`, `args.zoneSpreadWeight: Invalid value: 120: must be between 0 and 100`},
		{"workload for binpack", `{"policy":"Binpack","workload":[{"count":1,"percent":50,"weight":1}]}`, `args.workload: Forbidden: policy Binpack does not use a workload distribution`},
		{"bad shape", `{"policy":"FGD","workload":[{"count":2,"percent":50,"weight":1}]}`, `args.workload[0].percent: Invalid value: 50: must be 100 when count is above 1`},
		{"wrong kind", `{"apiVersion":"gantry.dev/v1alpha1","kind":"Other"}`, `no kind "Other" is registered`},
		{"bad writeAllocation", `{"writeAllocation":"Annotate"}`, `args.writeAllocation: Unsupported value: "Annotate": supported values: "PreBind", "Bind"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeArgs(&runtime.Unknown{Raw: []byte(tc.raw), ContentType: runtime.ContentTypeJSON})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func mustDefaults(t *testing.T) *gantryconfig.DeviceShareArgs {
	t.Helper()
	a, err := decodeArgs(nil)
	require.NoError(t, err)
	return a
}
