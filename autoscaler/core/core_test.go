package core

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics/testutil"
	"k8s.io/klog/v2/ktesting"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/fake"
	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/autoscaler/status"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func group(name, model string, count, max int, price float64) config.NodeGroup {
	return config.NodeGroup{Name: name, MaxSize: max, PricePerHour: price, Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: model, Count: count, MemoryMiB: 16384},
		CPU:    resource.MustParse("32"), Memory: resource.MustParse("128Gi"), Pods: 110,
	}}
}

func testConfig(groups ...config.NodeGroup) *config.AutoscalerConfiguration {
	v := &v1alpha1.AutoscalerConfiguration{}
	v1alpha1.SetDefaults_AutoscalerConfiguration(v)
	c := v1alpha1.Convert(v)
	c.NodeGroups = groups
	c.ScaleDown.UnneededTime = time.Minute
	c.ScaleDown.DelayAfterAdd = 0
	c.Expanders = []string{"least-waste", "price"}
	return c
}

type env struct {
	t    *testing.T
	ctx  context.Context
	cfg  *config.AutoscalerConfiguration
	src  *source.Memory
	prov *fake.Provider
	rec  *record.FakeRecorder
	st   *status.Memory
	a    *Autoscaler
	seq  int
	// deleteErr, when set, fails the provider's DeleteNodes.
	deleteErr error
	// keepDeleted, when set, leaves nodes the provider deletes in the
	// cluster (their deletion is still in progress).
	keepDeleted bool
}

// newEnv builds an autoscaler over an empty memory cluster. Groups start at
// the number of nodes later registered with register.
func newEnv(t *testing.T, cfg *config.AutoscalerConfiguration, onScaleUp func(string, int) error) *env {
	_, ctx := ktesting.NewTestContext(t)
	e := &env{t: t, ctx: ctx, cfg: cfg, src: source.NewMemory(), rec: record.NewFakeRecorder(10000), st: &status.Memory{}}
	b := fake.NewBuilder().WithOnScaleUp(onScaleUp).WithOnDelete(func(_ string, nodes []string) error {
		if e.deleteErr != nil {
			return e.deleteErr
		}
		if e.keepDeleted {
			return nil
		}
		for _, n := range nodes {
			e.src.DeleteNode(n)
		}
		return nil
	})
	for _, g := range cfg.AllGroups() {
		b = b.WithGroup(g, 0)
	}
	e.prov = b.Build()
	a, err := New(ctx, Options{Config: cfg, Provider: e.prov, Source: e.src, Recorder: e.rec, Status: e.st, Seed: 1})
	require.NoError(t, err)
	e.a = a
	return e
}

// register adds n nodes of group as registered; without inventory they
// are not ready for a GPU group. It raises the group's target to match.
func (e *env) register(groupName string, n int, inventory bool) []string {
	g := e.prov.Group(groupName)
	var names []string
	for i := 0; i < n; i++ {
		e.seq++
		name := fmt.Sprintf("%s-n%d", groupName, e.seq)
		node, err := cloudprovider.BuildNode(g.Config(), name)
		require.NoError(e.t, err)
		if !inventory {
			delete(node.Annotations, contract.AnnotationInventory)
		}
		e.src.AddNode(node)
		names = append(names, name)
	}
	if t, _ := g.TargetSize(); t < e.count(groupName) {
		g.SetTargetSize(e.count(groupName))
	}
	return names
}

func (e *env) count(groupName string) int {
	nodes, _ := e.src.Nodes(e.ctx)
	n := 0
	for _, node := range nodes {
		if node.Labels[cloudprovider.LabelNodeGroup] == groupName {
			n++
		}
	}
	return n
}

func (e *env) run(at time.Time) {
	require.NoError(e.t, e.a.RunOnce(e.ctx, at))
}

func (e *env) calls(op string) []fake.Call {
	var out []fake.Call
	for _, c := range e.prov.Calls() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

func (e *env) events() []string {
	var out []string
	for {
		select {
		case ev := <-e.rec.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func pending(name string, percent int64, models string) *corev1.Pod {
	w := coretest.MakePod(name).GPUPercent(percent).Requests(500, 512).Owner("ReplicaSet", "rs-"+name, true)
	if models != "" {
		w = w.Models(models)
	}
	p := w.Obj()
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	return p
}

// bound returns a pod on node holding units of card index card.
func bound(name, node string, units, card int) *corev1.Pod {
	a := contract.Allocation{Node: node, Containers: []contract.ContainerAllocation{{Container: "main", Kind: device.GPU,
		Devices: []contract.DeviceShare{{ID: fmt.Sprintf("%s-gpu-%d", node, card), Index: card, Units: units}}}}}
	v, err := contract.EncodeAllocation(a)
	if err != nil {
		panic(err)
	}
	p := coretest.MakePod(name).GPUPercent(int64(units)).Requests(500, 512).Owner("ReplicaSet", "rs-"+name, true).
		Annotation(contract.AnnotationAllocation, v).Node(node).Obj()
	p.Status.Phase = corev1.PodRunning
	return p
}

func TestScaleUpChoosesTheGroupThePodsFit(t *testing.T) {
	tests := []struct {
		name      string
		pods      func() []*corev1.Pod
		wantGroup string
		wantDelta int
	}{
		{name: "ten 60% T4 shares: ten one-card T4 nodes", pods: func() []*corev1.Pod {
			var out []*corev1.Pod
			for i := 0; i < 10; i++ {
				out = append(out, pending(fmt.Sprintf("p%d", i), 60, "T4"))
			}
			return out
		}, wantGroup: "t4", wantDelta: 10},
		{name: "A100-only shares: the A100 group", pods: func() []*corev1.Pod {
			var out []*corev1.Pod
			for i := 0; i < 20; i++ {
				out = append(out, pending(fmt.Sprintf("p%d", i), 50, "A100"))
			}
			return out
		}, wantGroup: "a100", wantDelta: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, testConfig(group("t4", "T4", 1, 50, 1), group("a100", "A100", 8, 10, 20)), nil)
			for _, p := range tt.pods() {
				e.src.AddPod(p)
			}
			e.run(t0)
			calls := e.calls("IncreaseSize")
			require.Len(t, calls, 1)
			assert.Equal(t, tt.wantGroup, calls[0].Group)
			assert.Equal(t, tt.wantDelta, calls[0].Delta)
			evs := e.events()
			require.NotEmpty(t, evs)
			for _, ev := range evs {
				assert.Contains(t, ev, EventTriggeredScaleUp)
			}
		})
	}
}

func TestNotTriggerScaleUpSaysWhy(t *testing.T) {
	e := newEnv(t, testConfig(group("t4", "T4", 1, 50, 1), group("a100", "A100", 8, 10, 20)), nil)
	e.src.AddPod(pending("h100", 50, "H100"))
	e.run(t0)
	assert.Empty(t, e.calls("IncreaseSize"))
	evs := e.events()
	require.Len(t, evs, 1)
	assert.Contains(t, evs[0], EventNotTriggerScaleUp)
	assert.Contains(t, evs[0], "2 node group(s) cannot help")
	assert.Contains(t, evs[0], "a100: 0/1 nodes are available")
	assert.Contains(t, evs[0], "H100", "the plugin's reason names the model")
}

func TestUpcomingNodesPreventDoubleScaleUp(t *testing.T) {
	e := newEnv(t, testConfig(group("t4", "T4", 1, 50, 1)), nil)
	for i := 0; i < 4; i++ {
		e.src.AddPod(pending(fmt.Sprintf("p%d", i), 100, ""))
	}
	e.run(t0)
	require.Len(t, e.calls("IncreaseSize"), 1)
	e.run(t0.Add(10 * time.Second))
	assert.Len(t, e.calls("IncreaseSize"), 1, "the four requested nodes are upcoming")
	// Registered but not ready: the device plugin has not published the
	// inventory yet, so they still count as upcoming, not as capacity.
	e.register("t4", 4, false)
	e.run(t0.Add(20 * time.Second))
	assert.Len(t, e.calls("IncreaseSize"), 1)
	assert.Equal(t, 4, e.st.Last.NodeGroups[0].Upcoming)
	assert.Equal(t, 0, e.st.Last.NodeGroups[0].Ready)
	// A fifth pod needs one more node.
	e.src.AddPod(pending("p4", 100, ""))
	e.run(t0.Add(30 * time.Second))
	calls := e.calls("IncreaseSize")
	require.Len(t, calls, 2)
	assert.Equal(t, 1, calls[1].Delta)
}

func TestMaxProvisionTimeBacksOffAndFallsBack(t *testing.T) {
	cfg := testConfig(group("t4-a", "T4", 1, 50, 1), group("t4-b", "T4", 1, 50, 2))
	cfg.BalanceSimilarNodeGroups = false
	e := newEnv(t, cfg, nil)
	e.src.AddPod(pending("p", 100, ""))
	e.run(t0)
	calls := e.calls("IncreaseSize")
	require.Len(t, calls, 1)
	assert.Equal(t, "t4-a", calls[0].Group, "cheaper")
	e.run(t0.Add(cfg.MaxNodeProvisionTime - time.Second))
	assert.Len(t, e.calls("IncreaseSize"), 1)
	e.run(t0.Add(cfg.MaxNodeProvisionTime + time.Second))
	dec := e.calls("DecreaseTargetSize")
	require.Len(t, dec, 1)
	assert.Equal(t, fake.Call{Op: "DecreaseTargetSize", Group: "t4-a", Delta: 1}, dec[0])
	calls = e.calls("IncreaseSize")
	require.Len(t, calls, 2)
	assert.Equal(t, "t4-b", calls[1].Group, "t4-a is backed off")
	require.NotNil(t, e.st.Last.NodeGroups[0].BackedOffUntil)
}

func TestProviderErrorBacksOffAndFallsBackInTheSameLoop(t *testing.T) {
	cfg := testConfig(group("t4-a", "T4", 1, 50, 1), group("t4-b", "T4", 1, 50, 2))
	cfg.BalanceSimilarNodeGroups = false
	e := newEnv(t, cfg, func(g string, _ int) error {
		if g == "t4-a" {
			return fmt.Errorf("stock-out")
		}
		return nil
	})
	e.src.AddPod(pending("p", 100, ""))
	e.run(t0)
	calls := e.calls("IncreaseSize")
	require.Len(t, calls, 2)
	assert.Equal(t, []string{"t4-a", "t4-b"}, []string{calls[0].Group, calls[1].Group})
}

func TestBackoffDurations(t *testing.T) {
	b := &backoff{cfg: config.Backoff{Initial: 5 * time.Minute, Max: 30 * time.Minute, Reset: 3 * time.Hour}, groups: map[string]*backoffState{}}
	steps := []struct {
		at        time.Duration
		wantUntil time.Duration
	}{
		{0, 5 * time.Minute},
		{time.Minute, 6 * time.Minute},               // failed again while backed off: same duration
		{7 * time.Minute, 17 * time.Minute},          // after expiry: doubled
		{20 * time.Minute, 40 * time.Minute},         // 20m
		{45 * time.Minute, 75 * time.Minute},         // capped at 30m
		{5 * time.Hour, 5*time.Hour + 5*time.Minute}, // forgotten after reset
	}
	for _, s := range steps {
		assert.Equal(t, t0.Add(s.wantUntil), b.fail("g", t0.Add(s.at)), "failure at %v", s.at)
	}
	assert.True(t, b.backedOff("g", t0.Add(5*time.Hour+time.Minute)))
	assert.False(t, b.backedOff("g", t0.Add(5*time.Hour+5*time.Minute)))
	assert.False(t, b.backedOff("other", t0))
}

func TestClusterLimits(t *testing.T) {
	cfg := testConfig(group("a100", "A100", 8, 50, 1))
	cfg.Limits.MaxGPUs = 16
	e := newEnv(t, cfg, nil)
	for i := 0; i < 40; i++ {
		e.src.AddPod(pending(fmt.Sprintf("p%d", i), 100, ""))
	}
	e.run(t0)
	calls := e.calls("IncreaseSize")
	require.Len(t, calls, 1)
	assert.Equal(t, 2, calls[0].Delta, "16 GPUs allow two 8-GPU nodes")
}

func TestBalanceAcrossZones(t *testing.T) {
	a, b := group("t4-a", "T4", 1, 50, 1), group("t4-b", "T4", 1, 50, 1)
	a.Template.Zone, b.Template.Zone = "zone-a", "zone-b"
	e := newEnv(t, testConfig(a, b), nil)
	for i := 0; i < 6; i++ {
		e.src.AddPod(pending(fmt.Sprintf("p%d", i), 100, ""))
	}
	e.run(t0)
	got := map[string]int{}
	for _, c := range e.calls("IncreaseSize") {
		got[c.Group] += c.Delta
	}
	assert.Equal(t, map[string]int{"t4-a": 3, "t4-b": 3}, got)
}

func TestScheduledMinimum(t *testing.T) {
	cfg := testConfig(group("t4", "T4", 1, 50, 1))
	cfg.ScheduledMinimums = []config.ScheduledMinimum{{Name: "morning", Group: "t4", Schedule: "0 8 * * *", Duration: 2 * time.Hour, MinSize: 3}}
	e := newEnv(t, cfg, nil)
	e.run(time.Date(2026, 11, 27, 7, 59, 0, 0, time.UTC))
	assert.Empty(t, e.calls("IncreaseSize"))
	e.run(time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC))
	calls := e.calls("IncreaseSize")
	require.Len(t, calls, 1)
	assert.Equal(t, 3, calls[0].Delta)
	// The nodes come, idle: not removed while the window is open...
	e.register("t4", 3, true)
	e.run(time.Date(2026, 11, 27, 8, 40, 0, 0, time.UTC))
	e.run(time.Date(2026, 11, 27, 9, 50, 0, 0, time.UTC))
	assert.Empty(t, e.calls("DeleteNodes"))
	// ...and removed once it closes.
	e.run(time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC))
	assert.Len(t, e.calls("DeleteNodes"), 3)
}

func pdb(name string, allowed int32) *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:   policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed}}
}

func emptySelectorPDB(allowed int32) *policyv1.PodDisruptionBudget {
	b := pdb("all", allowed)
	b.Spec.Selector = &metav1.LabelSelector{}
	return b
}

func TestPodsToMove(t *testing.T) {
	pod := bound("p", "n", 50, 0)
	pod.Labels = map[string]string{"app": "x"}
	tests := []struct {
		name    string
		pdbs    []*policyv1.PodDisruptionBudget
		wantWhy string
	}{
		{name: "no budget"},
		{name: "empty selector, none allowed", pdbs: []*policyv1.PodDisruptionBudget{emptySelectorPDB(0)},
			wantWhy: "PodDisruptionBudget default/all allows 0 disruption(s), the node needs 1"},
		{name: "two budgets cover the pod", pdbs: []*policyv1.PodDisruptionBudget{emptySelectorPDB(5), pdb("x", 5)},
			wantWhy: "pod default/p is covered by 2 PodDisruptionBudgets; the Eviction API evicts pods covered by at most one"},
		{name: "nil selector covers nothing", pdbs: []*policyv1.PodDisruptionBudget{func() *policyv1.PodDisruptionBudget {
			b := pdb("none", 0)
			b.Spec.Selector = nil
			return b
		}()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, why := podsToMove([]*corev1.Pod{pod}, pdbBudgets(tt.pdbs))
			assert.Equal(t, tt.wantWhy, why)
			if tt.wantWhy == "" {
				assert.Len(t, out, 1)
			}
		})
	}
}

func TestScaleDown(t *testing.T) {
	// Two 2-card nodes: "low" holds one pod (30% of the node's units),
	// "busy" holds two 50% shares, one per card.
	tests := []struct {
		name       string
		lowPod     func(node string) *corev1.Pod
		pdb        *policyv1.PodDisruptionBudget
		min        int
		wantDelete bool
	}{
		{name: "pod fits elsewhere card by card", lowPod: func(n string) *corev1.Pod { return bound("low-pod", n, 50, 0) }, wantDelete: true},
		{name: "60% fits no card although the summed free units do", lowPod: func(n string) *corev1.Pod { return bound("low-pod", n, 60, 0) }},
		{name: "safe-to-evict false", lowPod: func(n string) *corev1.Pod {
			p := bound("low-pod", n, 50, 0)
			p.Annotations[AnnotationSafeToEvict] = "false"
			return p
		}},
		{name: "gantry.dev/safe-to-evict false", lowPod: func(n string) *corev1.Pod {
			p := bound("low-pod", n, 50, 0)
			p.Annotations[AnnotationGantrySafeToEvict] = "false"
			return p
		}},
		{name: "no controller", lowPod: func(n string) *corev1.Pod {
			p := bound("low-pod", n, 50, 0)
			p.OwnerReferences = nil
			return p
		}},
		{name: "no controller but safe-to-evict true", lowPod: func(n string) *corev1.Pod {
			p := bound("low-pod", n, 50, 0)
			p.OwnerReferences = nil
			p.Annotations[AnnotationSafeToEvict] = "true"
			return p
		}, wantDelete: true},
		{name: "PDB allows no disruption", lowPod: func(n string) *corev1.Pod {
			p := bound("low-pod", n, 50, 0)
			p.Labels = map[string]string{"app": "x"}
			return p
		}, pdb: pdb("x", 0)},
		{name: "PDB allows one", lowPod: func(n string) *corev1.Pod {
			p := bound("low-pod", n, 50, 0)
			p.Labels = map[string]string{"app": "x"}
			return p
		}, pdb: pdb("x", 1), wantDelete: true},
		// In policy/v1 an empty selector covers every pod of the namespace.
		{name: "empty-selector PDB allows no disruption", lowPod: func(n string) *corev1.Pod { return bound("low-pod", n, 50, 0) },
			pdb: emptySelectorPDB(0)},
		{name: "empty-selector PDB allows one", lowPod: func(n string) *corev1.Pod { return bound("low-pod", n, 50, 0) },
			pdb: emptySelectorPDB(1), wantDelete: true},
		{name: "group at its minimum", lowPod: func(n string) *corev1.Pod { return bound("low-pod", n, 50, 0) }, min: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := group("t4x2", "T4", 2, 10, 1)
			g.MinSize = tt.min
			cfg := testConfig(g)
			e := newEnv(t, cfg, nil)
			names := e.register("t4x2", 2, true)
			low, busy := names[0], names[1]
			e.src.AddPod(tt.lowPod(low))
			e.src.AddPod(bound("busy-0", busy, 50, 0))
			e.src.AddPod(bound("busy-1", busy, 50, 1))
			if tt.pdb != nil {
				e.src.AddPDB(tt.pdb)
			}
			e.run(t0)
			e.run(t0.Add(cfg.ScaleDown.UnneededTime - time.Second))
			assert.Empty(t, e.calls("DeleteNodes"), "not unneeded long enough")
			e.run(t0.Add(cfg.ScaleDown.UnneededTime))
			dels := e.calls("DeleteNodes")
			if !tt.wantDelete {
				assert.Empty(t, dels)
				_, ok := e.src.Node(low)
				assert.True(t, ok)
				return
			}
			require.Len(t, dels, 1)
			assert.Equal(t, []string{low}, dels[0].Nodes)
			assert.Equal(t, []string{"default/low-pod"}, e.src.Evicted())
			var scaleDown int
			for _, ev := range e.events() {
				if strings.Contains(ev, EventScaleDown) {
					scaleDown++
				}
			}
			assert.Equal(t, 2, scaleDown, "one on the pod, one on the node")
		})
	}
}

func TestNoScaleDownRightAfterScaleUp(t *testing.T) {
	cfg := testConfig(group("t4", "T4", 1, 50, 1))
	cfg.ScaleDown.DelayAfterAdd = 10 * time.Minute
	e := newEnv(t, cfg, nil)
	e.src.AddPod(pending("p", 100, ""))
	e.run(t0)
	require.Len(t, e.calls("IncreaseSize"), 1)
	// The node comes and the pod goes: the node is idle.
	e.register("t4", 1, true)
	e.src.DeletePod("default", "p")
	e.run(t0.Add(5 * time.Minute))
	e.run(t0.Add(9 * time.Minute))
	assert.Empty(t, e.calls("DeleteNodes"), "within delayAfterAdd")
	e.run(t0.Add(11 * time.Minute))
	assert.Len(t, e.calls("DeleteNodes"), 1, "the idle node goes once the delay passed")
}

func TestZoneSpreadPodsAreBalancedEvenWhenBalancingIsOff(t *testing.T) {
	a, b := group("t4-a", "T4", 1, 50, 1), group("t4-b", "T4", 1, 50, 1)
	a.Template.Zone, b.Template.Zone = "zone-a", "zone-b"
	cfg := testConfig(a, b)
	cfg.BalanceSimilarNodeGroups = false
	e := newEnv(t, cfg, nil)
	for i := 0; i < 4; i++ {
		p := pending(fmt.Sprintf("p%d", i), 100, "")
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
			WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}}}
		e.src.AddPod(p)
	}
	e.run(t0)
	got := map[string]int{}
	for _, c := range e.calls("IncreaseSize") {
		got[c.Group] += c.Delta
	}
	assert.Equal(t, map[string]int{"t4-a": 2, "t4-b": 2}, got)
}

func TestMetricsAndStatus(t *testing.T) {
	e := newEnv(t, testConfig(group("t4", "T4", 1, 50, 1)), nil)
	for i := 0; i < 3; i++ {
		e.src.AddPod(pending(fmt.Sprintf("p%d", i), 100, ""))
	}
	e.run(t0)
	v, err := testutil.GetCounterMetricValue(e.a.metrics.ScaledUpNodes.WithLabelValues("t4"))
	require.NoError(t, err)
	assert.Equal(t, 3.0, v)
	g, err := testutil.GetGaugeMetricValue(e.a.metrics.UnschedulablePods)
	require.NoError(t, err)
	assert.Equal(t, 3.0, g)
	assert.Equal(t, t0, e.st.Last.LastScaleUp)
	require.Len(t, e.st.Last.NodeGroups, 1)
	assert.Equal(t, status.GroupStatus{Name: "t4", Target: 3, Upcoming: 3, MaxSize: 50}, e.st.Last.NodeGroups[0])

	client := k8sfake.NewClientset()
	w := &status.ConfigMapWriter{Client: client, Namespace: "kube-system", Name: "gantry-autoscaler-status"}
	require.NoError(t, w.Write(e.ctx, e.st.Last))
	require.NoError(t, w.Write(e.ctx, e.st.Last))
	cm, err := client.CoreV1().ConfigMaps("kube-system").Get(e.ctx, "gantry-autoscaler-status", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.Data["status"], "name: t4")
}

func TestBurstGroupTakesWhatTheOthersCannot(t *testing.T) {
	cfg := testConfig(group("t4", "T4", 1, 2, 1))
	burst := group("burst", "T4", 1, 100, 5)
	burst.Burst = true
	cfg.BurstGroup = &burst
	e := newEnv(t, cfg, nil)
	for i := 0; i < 5; i++ {
		e.src.AddPod(pending(fmt.Sprintf("p%d", i), 100, ""))
	}
	e.run(t0)
	got := map[string]int{}
	for _, c := range e.calls("IncreaseSize") {
		got[c.Group] += c.Delta
	}
	assert.Equal(t, map[string]int{"t4": 2, "burst": 3}, got, "the cheap group to its max, the rest on the burst group")
}

func TestScaleDownMaxConcurrent(t *testing.T) {
	cfg := testConfig(group("t4", "T4", 1, 10, 1))
	cfg.ScaleDown.MaxConcurrent = 2
	e := newEnv(t, cfg, nil)
	e.register("t4", 5, true)
	e.run(t0)
	e.run(t0.Add(cfg.ScaleDown.UnneededTime))
	dels := e.calls("DeleteNodes")
	assert.Len(t, dels, 2)
	e.run(t0.Add(cfg.ScaleDown.UnneededTime + time.Second))
	assert.Len(t, e.calls("DeleteNodes"), 4)
}

func TestScaleDownKeepsNodesThatReceivePods(t *testing.T) {
	// Four 2-card nodes. "a" holds a 50% share, which fits only on "b"
	// (the busy nodes keep 40% free); "b" holds 40%+20%, which fit on
	// the busy nodes. Removing "a" moves its pod onto "b", so "b" must
	// stay.
	tests := []struct {
		name    string
		aUnits  int
		wantDel []int // indexes into the registered nodes
	}{
		{name: "a's pod fits only on b", aUnits: 50, wantDel: []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(group("t4x2", "T4", 2, 10, 1))
			e := newEnv(t, cfg, nil)
			names := e.register("t4x2", 4, true)
			a, b, c, d := names[0], names[1], names[2], names[3]
			e.src.AddPod(bound("a-0", a, tt.aUnits, 0))
			e.src.AddPod(bound("b-0", b, 40, 0))
			e.src.AddPod(bound("b-1", b, 20, 1))
			for _, n := range []string{c, d} {
				e.src.AddPod(bound(n+"-0", n, 100, 0))
				e.src.AddPod(bound(n+"-1", n, 60, 1))
			}
			e.run(t0)
			e.run(t0.Add(cfg.ScaleDown.UnneededTime))
			var got []string
			for _, c := range e.calls("DeleteNodes") {
				got = append(got, c.Nodes...)
			}
			var want []string
			for _, i := range tt.wantDel {
				want = append(want, names[i])
			}
			assert.Equal(t, want, got)
			_, ok := e.src.Node(b)
			assert.True(t, ok, "b received a's pod")
		})
	}
}

func TestMinimumRespectsClusterLimits(t *testing.T) {
	tests := []struct {
		name     string
		maxNodes int
		maxGPUs  int
		want     map[string]int
	}{
		{name: "unlimited", want: map[string]int{"a100": 3, "t4": 2}},
		{name: "max GPUs", maxGPUs: 20, want: map[string]int{"a100": 2, "t4": 2}},
		{name: "max nodes", maxNodes: 4, want: map[string]int{"a100": 3, "t4": 1}},
		{name: "max nodes used up by the first group", maxNodes: 3, want: map[string]int{"a100": 3}},
		{name: "GPU limit below one A100 node", maxGPUs: 7, want: map[string]int{"t4": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := group("a100", "A100", 8, 10, 1), group("t4", "T4", 1, 10, 1)
			a.MinSize, b.MinSize = 3, 2
			cfg := testConfig(a, b)
			cfg.Limits.MaxNodes, cfg.Limits.MaxGPUs = tt.maxNodes, tt.maxGPUs
			e := newEnv(t, cfg, nil)
			e.run(t0)
			got := map[string]int{}
			for _, c := range e.calls("IncreaseSize") {
				got[c.Group] += c.Delta
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// evictFails is a memory source whose evictions fail.
// slowSource refuses the first refusals evictions as a PodDisruptionBudget
// would, and reports evicted pods gone only after pollsToGo checks.
type slowSource struct {
	*source.Memory
	refusals, pollsToGo int
	polls               map[string]int
}

func (s *slowSource) Evict(ctx context.Context, p *corev1.Pod) error {
	if s.refusals > 0 {
		s.refusals--
		return &source.EvictionRefusedError{Pod: p.Name, Err: fmt.Errorf("disruption budget")}
	}
	return s.Memory.Evict(ctx, p)
}

func (s *slowSource) PodGone(_ context.Context, p *corev1.Pod) (bool, error) {
	s.polls[p.Name]++
	return s.polls[p.Name] > s.pollsToGo, nil
}

func TestScaleDownWaitsForEvictionsAndTermination(t *testing.T) {
	tests := []struct {
		name                string
		refusals, pollsToGo int
		wantDelete          bool
	}{
		{name: "refused evictions are retried", refusals: 2, wantDelete: true},
		{name: "the node goes once its pods terminated", pollsToGo: 3, wantDelete: true},
		{name: "pods that never terminate keep the node", pollsToGo: 1 << 30},
		{name: "evictions refused until the timeout keep the node", refusals: 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(group("t4x2", "T4", 2, 10, 1))
			cfg.ScaleDown.MaxPodEvictionTime = 300 * time.Millisecond
			e := newEnv(t, cfg, nil)
			src := &slowSource{Memory: e.src, refusals: tt.refusals, pollsToGo: tt.pollsToGo, polls: map[string]int{}}
			a, err := New(e.ctx, Options{Config: cfg, Provider: e.prov, Source: src, Recorder: e.rec, Status: e.st, Seed: 1})
			require.NoError(t, err)
			a.evictionRetry, a.terminationPoll = 10*time.Millisecond, 10*time.Millisecond
			e.a = a
			names := e.register("t4x2", 2, true)
			low, busy := names[0], names[1]
			e.src.AddPod(bound("low-pod", low, 50, 0))
			e.src.AddPod(bound("busy-0", busy, 50, 0))
			e.src.AddPod(bound("busy-1", busy, 50, 1))
			e.run(t0)
			e.run(t0.Add(cfg.ScaleDown.UnneededTime))
			events := strings.Join(e.events(), "\n")
			if tt.wantDelete {
				require.Len(t, e.calls("DeleteNodes"), 1)
				assert.Greater(t, src.polls["low-pod"], tt.pollsToGo, "deleted only after the pod was gone")
				return
			}
			assert.Empty(t, e.calls("DeleteNodes"))
			n, ok := e.src.Node(low)
			require.True(t, ok)
			assert.False(t, source.HasToBeDeleted(n), "the node is unmarked")
			assert.Contains(t, events, EventScaleDownFailed)
			assert.Contains(t, events, "within 300ms")
		})
	}
}

type evictFails struct{ *source.Memory }

func (evictFails) Evict(context.Context, *corev1.Pod) error { return fmt.Errorf("eviction refused") }

func TestFailedScaleDownUnmarksTheNode(t *testing.T) {
	tests := []struct {
		name      string
		evictErr  bool
		deleteErr error
	}{
		{name: "eviction fails", evictErr: true},
		{name: "provider fails to delete", deleteErr: fmt.Errorf("cloud says no")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(group("t4x2", "T4", 2, 10, 1))
			e := newEnv(t, cfg, nil)
			e.deleteErr = tt.deleteErr
			if tt.evictErr {
				a, err := New(e.ctx, Options{Config: cfg, Provider: e.prov, Source: evictFails{e.src}, Recorder: e.rec, Status: e.st, Seed: 1})
				require.NoError(t, err)
				e.a = a
			}
			names := e.register("t4x2", 2, true)
			low, busy := names[0], names[1]
			e.src.AddPod(bound("low-pod", low, 50, 0))
			e.src.AddPod(bound("busy-0", busy, 50, 0))
			e.src.AddPod(bound("busy-1", busy, 50, 1))
			e.run(t0)
			e.run(t0.Add(cfg.ScaleDown.UnneededTime))
			n, ok := e.src.Node(low)
			require.True(t, ok)
			assert.False(t, source.HasToBeDeleted(n), "the failed scale-down takes its taint back")
			assert.False(t, n.Spec.Unschedulable)
			assert.True(t, nodeReady(n, nil, nil))
		})
	}
}

func TestLeftoverToBeDeletedTaintsAreRemovedAtStart(t *testing.T) {
	tests := []struct {
		name      string
		deleting  bool
		wantTaint bool
	}{
		{name: "left by an earlier run", wantTaint: false},
		{name: "node being deleted", deleting: true, wantTaint: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, testConfig(group("t4", "T4", 1, 10, 1)), nil)
			name := e.register("t4", 1, true)[0]
			require.NoError(t, e.src.MarkToBeDeleted(e.ctx, name))
			if tt.deleting {
				n, _ := e.src.Node(name)
				n = n.DeepCopy()
				now := metav1.NewTime(t0)
				n.DeletionTimestamp = &now
				e.src.AddNode(n)
			}
			e.run(t0)
			n, ok := e.src.Node(name)
			require.True(t, ok)
			assert.Equal(t, tt.wantTaint, source.HasToBeDeleted(n))
			assert.Equal(t, tt.wantTaint, n.Spec.Unschedulable)
		})
	}
}

// erroringSnapshot is a scalar snapshot whose placements fail as the
// framework does on an internal Error status.
type erroringSnapshot struct{ *simulator.ScalarSnapshot }

func (s erroringSnapshot) Schedule(context.Context, *corev1.Pod) (string, *corev1.Pod, string, error) {
	return "", nil, "", fmt.Errorf("plugin broke")
}

func (s erroringSnapshot) Fork(ctx context.Context) (simulator.Snapshot, error) {
	f, err := s.ScalarSnapshot.Fork(ctx)
	if err != nil {
		return nil, err
	}
	return erroringSnapshot{f.(*simulator.ScalarSnapshot)}, nil
}

func (s erroringSnapshot) Empty(context.Context) (simulator.Snapshot, error) {
	return erroringSnapshot{simulator.NewScalarSnapshot()}, nil
}

func TestInternalSchedulingErrorNeverScales(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
		check func(t *testing.T, e *env)
	}{
		{name: "no scale-up for a pending pod", setup: func(e *env) {
			e.src.AddPod(pending("p", 100, ""))
		}, check: func(t *testing.T, e *env) {
			assert.Error(t, e.a.RunOnce(e.ctx, t0))
			assert.Empty(t, e.calls("IncreaseSize"))
		}},
		{name: "no scale-down of a node whose drain cannot be simulated", setup: func(e *env) {
			names := e.register("t4x2", 2, true)
			e.src.AddPod(bound("low-0", names[0], 50, 0))
			e.src.AddPod(bound("low-1", names[1], 50, 0))
		}, check: func(t *testing.T, e *env) {
			e.run(t0)
			e.run(t0.Add(e.cfg.ScaleDown.UnneededTime))
			assert.Empty(t, e.calls("DeleteNodes"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(group("t4x2", "T4", 2, 10, 1))
			e := newEnv(t, cfg, nil)
			a, err := New(e.ctx, Options{Config: cfg, Provider: e.prov, Source: e.src, Recorder: e.rec, Status: e.st, Seed: 1,
				Snapshot: erroringSnapshot{simulator.NewScalarSnapshot()}})
			require.NoError(t, err)
			e.a = a
			tt.setup(e)
			tt.check(t, e)
		})
	}
}
