package dra_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	fwk "k8s.io/kube-scheduler/framework"
	kconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra/dratest"
	"github.com/gantry-dev/gantry/core/policy"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/dra"
	"github.com/gantry-dev/gantry/scheduler/simulate"
	"github.com/gantry-dev/gantry/simulator/engine"
	"github.com/gantry-dev/gantry/simulator/trace"
	"github.com/gantry-dev/gantry/simulator/workload"
)

const shippedTrace = "../../simulator/trace/testdata/alibaba-gpu-v2023"

// placement is where a pod went: its node and the units it holds per card.
type placement struct {
	Node  string
	Cards map[string]int
}

func (p placement) String() string {
	ids := make([]string, 0, len(p.Cards))
	for id, u := range p.Cards {
		ids = append(ids, id+":"+strconv.Itoa(u))
	}
	sort.Strings(ids)
	return p.Node + "[" + strings.Join(ids, ",") + "]"
}

// outcome is one run over a pod list.
type outcome struct {
	placed []placement // nil entry: the pod did not fit
	units  int         // units held over all cards
	failed int
}

// draVariant is how the DRA run chooses.
type draVariant int

const (
	// gantryDRA: GantryDRA, FGD for node and card.
	gantryDRA draVariant = iota
	// scoreOnly: FGD's node score, upstream's first-fit card.
	scoreOnly
	// upstream: the stock DynamicResources plugin, no score.
	upstream
)

func (v draVariant) String() string {
	return [...]string{"GantryDRA (FGD node + card)", "FGD node score, upstream first-fit card", "upstream DynamicResources, no score"}[v]
}

const draProfile = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: gantry-scheduler
    percentageOfNodesToScore: 100
    plugins:
      multiPoint:
        enabled:
          - name: GantryDRA
            weight: 1
        disabled:
          - name: DynamicResources
`

// trim keeps the filters that matter for trace pods (as simulate.Trim) and
// keep as the only scorer.
func trim(p *kconfig.KubeSchedulerProfile, keep string) {
	drop := map[string]bool{
		"VolumeBinding": true, "VolumeRestrictions": true, "VolumeZone": true, "NodeVolumeLimits": true,
		"InterPodAffinity": true, "PodTopologySpread": true, "ImageLocality": true, "NodePorts": true,
		"DefaultPreemption": true, "SchedulingGates": true, "GangScheduling": true, "TopologyPlacement": true,
	}
	out := p.Plugins.MultiPoint.Enabled[:0]
	for _, pl := range p.Plugins.MultiPoint.Enabled {
		if !drop[pl.Name] {
			out = append(out, pl)
		}
	}
	p.Plugins.MultiPoint.Enabled = out
	p.Plugins.PreScore = kconfig.PluginSet{Disabled: []kconfig.Plugin{{Name: "*"}}}
	p.Plugins.Score = kconfig.PluginSet{Enabled: []kconfig.Plugin{{Name: keep, Weight: 1}}, Disabled: []kconfig.Plugin{{Name: "*"}}}
}

// runDRA replays pods through a real framework whose DRA objects live in a
// dra.Memory: each trace node publishes its cards as a Gantry slice, each
// GPU pod asks one claim (count, percent, models as a CEL selector).
func runDRA(t *testing.T, tr trace.Trace, pods []trace.Pod, w policy.Workload, v draVariant) outcome {
	t.Helper()
	ctx := context.Background()
	cluster := simulate.NewCluster()
	mem := dra.NewMemory()
	mem.AddClass(dratest.DeviceClass(device.GPU))
	ids := map[string][]string{} // node -> card IDs by index
	for _, n := range tr.Nodes {
		node, err := engine.NodeObject(n)
		require.NoError(t, err)
		cluster.AddNode(node, "")
		inv := engine.Inventory(n)
		if len(inv.Devices) == 0 {
			continue
		}
		s := dratest.MakeSlice(n.Name)
		for _, d := range inv.Devices {
			s.Device(d)
			ids[n.Name] = append(ids[n.Name], d.ID)
		}
		mem.AddSlice(s.Obj())
	}
	profileText := draProfile
	keep := dra.Name
	if v == upstream {
		profileText = strings.ReplaceAll(strings.ReplaceAll(draProfile, "GantryDRA", "DynamicResources"), "disabled:\n          - name: DynamicResources\n", "")
		keep = "DynamicResources"
	}
	profile, err := simulate.LoadProfile(profileText)
	require.NoError(t, err)
	trim(profile, keep)
	registry := plugins.NewInTreeRegistry()
	args := &gantryconfig.DeviceShareArgs{Policy: policy.FGD, Workload: w}
	require.NoError(t, registry.Register(dra.Name, func(ctx context.Context, _ runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
		var opts []dra.Option
		if v == scoreOnly {
			opts = append(opts, dra.WithoutDeviceOrder())
		}
		return dra.NewWithArgs(ctx, args, h, feature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate), opts...)
	}))
	client := fake.NewClientset()
	fw, err := frameworkruntime.NewFramework(ctx, registry, profile,
		frameworkruntime.WithSnapshotSharedLister(cluster),
		frameworkruntime.WithSharedDRAManager(mem),
		frameworkruntime.WithClientSet(client),
		frameworkruntime.WithInformerFactory(informers.NewSharedInformerFactory(client, 0)),
		frameworkruntime.WithParallelism(1),
		frameworkruntime.WithPodNominator(nil),
	)
	require.NoError(t, err)

	var out outcome
	for _, p := range pods {
		pod := draPod(p, mem)
		node, ok := scheduleOne(t, ctx, fw, cluster, pod)
		if !ok {
			out.placed = append(out.placed, placement{})
			out.failed++
			if c, ok := mem.Claim(pod.Namespace, pod.Name); ok {
				mem.DeleteClaim(c.Namespace, c.Name)
			}
			continue
		}
		mem.Commit(pod)
		pl := placement{Node: node, Cards: map[string]int{}}
		if c, ok := mem.Claim(pod.Namespace, pod.Name); ok {
			for _, r := range c.Status.Allocation.Devices.Results {
				i, err := strconv.Atoi(strings.TrimPrefix(r.Device, "gpu-"))
				require.NoError(t, err)
				u, err := contract.DRAUnits(r)
				require.NoError(t, err)
				pl.Cards[ids[r.Pool][i]] += u
				out.units += u
			}
		}
		out.placed = append(out.placed, pl)
	}
	return out
}

// scheduleOne runs one scheduling cycle (PreFilter, Filter, Score, Reserve)
// and binds the pod in the cluster; the first best node in cluster order
// wins, as in scheduler/simulate.
func scheduleOne(t *testing.T, ctx context.Context, fw framework.Framework, cluster *simulate.Cluster, pod *v1.Pod) (string, bool) {
	t.Helper()
	cs := framework.NewCycleState()
	pre, st, _ := fw.RunPreFilterPlugins(ctx, cs, pod)
	if !st.IsSuccess() {
		require.NotEqual(t, fwk.Error, st.Code(), "PreFilter: %v", st.AsError())
		return "", false
	}
	var feasible []fwk.NodeInfo
	for _, ni := range cluster.Nodes() {
		if pre != nil && !pre.AllNodes() && !pre.NodeNames.Has(ni.Node().Name) {
			continue
		}
		st := fw.RunFilterPlugins(ctx, cs, pod, ni)
		require.NotEqual(t, fwk.Error, st.Code(), "Filter: %v", st.AsError())
		if st.IsSuccess() {
			feasible = append(feasible, ni)
		}
	}
	if len(feasible) == 0 {
		return "", false
	}
	node := feasible[0].Node().Name
	if len(feasible) > 1 {
		require.True(t, fw.RunPreScorePlugins(ctx, cs, pod, feasible).IsSuccess())
		scores, st := fw.RunScorePlugins(ctx, cs, pod, feasible)
		require.True(t, st.IsSuccess(), "Score: %v", st.AsError())
		best := int64(-1)
		for _, sc := range scores {
			if sc.TotalScore > best {
				best, node = sc.TotalScore, sc.Name
			}
		}
	}
	bound := pod.DeepCopy()
	st = fw.RunReservePluginsReserve(ctx, cs, bound, node)
	require.True(t, st.IsSuccess(), "Reserve: %v", st.AsError())
	bound.Spec.NodeName = node
	require.NoError(t, cluster.Bind(bound))
	return node, true
}

// draPod turns a trace pod into a DRA pod: the device-plugin pod without
// its gantry.dev/gpu-percent limit, with a claim of the same name asking
// the same share (models as a CEL selector, and still as the annotation
// the policy reads).
func draPod(p trace.Pod, mem *dra.Memory) *v1.Pod {
	pod := engine.PodObject(p)
	c := &pod.Spec.Containers[0]
	delete(c.Resources.Limits, contract.ResourceGPUPercent)
	if p.NumGPU == 0 {
		return pod
	}
	ex := &resourceapi.ExactDeviceRequest{DeviceClassName: "gpu.gantry.dev", AllocationMode: resourceapi.DeviceAllocationModeExactCount, Count: int64(p.NumGPU)}
	if p.GPUMilli < trace.MilliPerGPU {
		ex.Capacity = &resourceapi.CapacityRequirements{Requests: map[resourceapi.QualifiedName]resource.Quantity{
			contract.DRACapacityPercent: *resource.NewQuantity(p.GPUMilli/trace.MilliPerPercent, resource.DecimalSI),
		}}
	}
	if len(p.GPUSpec) > 0 {
		quoted := make([]string, len(p.GPUSpec))
		for i, m := range p.GPUSpec {
			quoted[i] = strconv.Quote(m)
		}
		ex.Selectors = []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{
			Expression: fmt.Sprintf("device.attributes[%q].model in [%s]", contract.DRADriver, strings.Join(quoted, ", ")),
		}}}
	}
	mem.AddClaim(&resourceapi.ResourceClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID + "-claim"},
		Spec:       resourceapi.ResourceClaimSpec{Devices: resourceapi.DeviceClaim{Requests: []resourceapi.DeviceRequest{{Name: "gpu", Exactly: ex}}}},
	})
	pod.Spec.ResourceClaims = []v1.PodResourceClaim{{Name: "gpu", ResourceClaimName: ptr.To(pod.Name)}}
	c.Resources.Claims = []v1.ResourceClaim{{Name: "gpu"}}
	return pod
}

// runDevicePlugin replays pods through scheduler/simulate with
// GantryDeviceShare (device-plugin mode).
func runDevicePlugin(t *testing.T, tr trace.Trace, pods []trace.Pod, w policy.Workload) outcome {
	t.Helper()
	ctx := context.Background()
	cluster := simulate.NewCluster()
	for _, n := range tr.Nodes {
		node, err := engine.NodeObject(n)
		require.NoError(t, err)
		cluster.AddNode(node, "")
	}
	s, err := simulate.NewScheduler(ctx, cluster, simulate.Options{Args: &gantryconfig.DeviceShareArgs{Policy: policy.FGD, Workload: w, WorkloadCoveragePercent: 95, WriteAllocation: gantryconfig.WriteInPreBind}})
	require.NoError(t, err)
	var out outcome
	for _, p := range pods {
		res := s.Schedule(ctx, engine.PodObject(p))
		if res.Status != nil && !res.Status.IsSuccess() {
			require.NotEqual(t, fwk.Error, res.Status.Code(), "%v", res.Status.AsError())
			out.placed = append(out.placed, placement{})
			out.failed++
			continue
		}
		pl := placement{Node: res.Node, Cards: map[string]int{}}
		if p.NumGPU > 0 {
			a, _, ok, err := contract.AllocationOf(res.Pod)
			require.NoError(t, err)
			require.True(t, ok)
			for id, u := range a.Units() {
				pl.Cards[id] = u
				out.units += u
			}
		}
		out.placed = append(out.placed, pl)
	}
	return out
}

// TestDRAReplay replays a trace in device-plugin mode and in DRA mode.
// FGD on the DRA path must place every pod exactly where it places it in
// device-plugin mode, node and card; upstream's first-fit choices are
// measured beside it. The environment picks the experiment:
//
//	GANTRY_DRA_TRACE        pod list (default "default")
//	GANTRY_DRA_NODE_STRIDE  keep every n-th node (default 8: 152 of 1213)
//	GANTRY_DRA_INFLATE      inflate the pods to this share of the kept
//	                        nodes' GPU capacity, as the FGD paper's
//	                        protocol does (default 0: the pod list as is)
//	GANTRY_DRA_PODS         replay at most this many pods
//
// Set GANTRY_DRA_NODE_STRIDE=1 for all nodes (long on a small machine).
// With none of them set, it replays the first 100 pods on every 8th node
// as a quick check.
func TestDRAReplay(t *testing.T) {
	variant := os.Getenv("GANTRY_DRA_TRACE")
	if variant == "" {
		variant = "default"
	}
	tr, err := trace.LoadDir(shippedTrace, variant)
	require.NoError(t, err)
	w := engine.WorkloadOf(workload.Shapes(tr.Pods, 0.95))
	quick := os.Getenv("GANTRY_DRA_TRACE")+os.Getenv("GANTRY_DRA_NODE_STRIDE")+os.Getenv("GANTRY_DRA_INFLATE") == ""
	stride := 8
	if v, err := strconv.Atoi(os.Getenv("GANTRY_DRA_NODE_STRIDE")); err == nil {
		stride = v
	}
	if stride > 1 {
		var kept []trace.Node
		for i := 0; i < len(tr.Nodes); i += stride {
			kept = append(kept, tr.Nodes[i])
		}
		tr.Nodes = kept
	}
	capacity := 0
	for _, n := range tr.Nodes {
		capacity += n.GPUs * device.UnitsPerDevice
	}
	pods := tr.Pods
	if ratio, err := strconv.ParseFloat(os.Getenv("GANTRY_DRA_INFLATE"), 64); err == nil && ratio > 0 {
		pods = workload.Inflate(tr.Pods, 42, ratio, int64(capacity)*trace.MilliPerPercent)
	}
	limit := len(pods)
	if quick {
		limit = 100
	}
	if n, err := strconv.Atoi(os.Getenv("GANTRY_DRA_PODS")); err == nil {
		limit = n
	}
	if limit < len(pods) {
		pods = pods[:limit]
	}

	dp := runDevicePlugin(t, tr, pods, w)
	results := map[draVariant]outcome{}
	for _, v := range []draVariant{gantryDRA, scoreOnly, upstream} {
		results[v] = runDRA(t, tr, pods, w, v)
	}
	g := results[gantryDRA]
	differ := 0
	for i := range pods {
		if dp.placed[i].String() != g.placed[i].String() {
			if differ < 5 {
				t.Errorf("pod %s: device-plugin mode %s, DRA mode %s", pods[i].Name, dp.placed[i], g.placed[i])
			}
			differ++
		}
	}
	require.Zero(t, differ, "pods placed differently by FGD in the two modes")

	t.Logf("trace %s, %d pods, %d nodes, %d GPU units", variant, len(pods), len(tr.Nodes), capacity)
	t.Logf("| mode | pods placed | pods failed | GPU allocated | same node+card as FGD device-plugin |")
	t.Logf("|---|---:|---:|---:|---:|")
	row := func(name string, o outcome) {
		same := 0
		for i := range pods {
			if o.placed[i].String() == dp.placed[i].String() {
				same++
			}
		}
		t.Logf("| %s | %d | %d | %.2f%% | %d |", name, len(pods)-o.failed, o.failed, 100*float64(o.units)/float64(capacity), same)
	}
	row("FGD, device-plugin mode (GantryDeviceShare)", dp)
	for _, v := range []draVariant{gantryDRA, scoreOnly, upstream} {
		row(v.String(), results[v])
	}
}
