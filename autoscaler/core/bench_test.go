package core

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/fake"
	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/core/coretest"
)

// benchWorld is 10 node groups (5 models x 2 zones) of 8-GPU nodes, 100
// nodes each with 30 pods of 25% (7.5 cards used, 50% of one card free),
// and 500 pending pods of 30/60/70/100% for the five models, 10 replicas
// per workload. The 30% pods fit the free half cards; the others need new
// nodes.
func benchWorld(b *testing.B) (*source.Memory, []string) {
	models := []string{"A100", "H100", "L40S", "T4", "V100"}
	src := source.NewMemory()
	var groups []string
	for gi := 0; gi < 10; gi++ {
		g := group(fmt.Sprintf("g%d", gi), models[gi%5], 8, 1000, float64(1+gi%5))
		g.Template.Zone = fmt.Sprintf("zone-%d", gi/5)
		groups = append(groups, g.Name)
		for ni := 0; ni < 100; ni++ {
			name := fmt.Sprintf("%s-n%03d", g.Name, ni)
			node, err := cloudprovider.BuildNode(g, name)
			if err != nil {
				b.Fatal(err)
			}
			src.AddNode(node)
			for pi := 0; pi < 30; pi++ {
				p := bound(fmt.Sprintf("%s-p%02d", name, pi), name, 25, pi/4)
				src.AddPod(p)
			}
		}
	}
	sizes := []int64{30, 60, 70, 100}
	for i := 0; i < 500; i++ {
		w := i / 10
		p := coretest.MakePod(fmt.Sprintf("pending-%03d", i)).GPUPercent(sizes[w%4]).Requests(1000, 2048).
			Models(models[w%5]).Owner("ReplicaSet", fmt.Sprintf("w%02d", w), true).Obj()
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
		src.AddPod(p)
	}
	return src, groups
}

// benchLoop is one loop's fresh autoscaler state: configuration, fake
// provider with 100 nodes per group, no scale-up requests yet. With a warm
// snapshot cache the autoscaler starts from the snapshot a previous loop
// left, as the second and later loops of a running autoscaler do.
func benchLoop(b *testing.B, ctx context.Context, src *source.Memory, scalar bool, warm *snapshotCache) (*Autoscaler, *fake.Provider) {
	cfg := testConfig()
	models := []string{"A100", "H100", "L40S", "T4", "V100"}
	for gi := 0; gi < 10; gi++ {
		g := group(fmt.Sprintf("g%d", gi), models[gi%5], 8, 1000, float64(1+gi%5))
		g.Template.Zone = fmt.Sprintf("zone-%d", gi/5)
		cfg.NodeGroups = append(cfg.NodeGroups, g)
	}
	bld := fake.NewBuilder()
	for _, g := range cfg.NodeGroups {
		bld = bld.WithGroup(g, 100)
	}
	prov := bld.Build()
	o := Options{Config: cfg, Provider: prov, Source: src, Seed: 1}
	if scalar {
		o.Snapshot = simulator.NewScalarSnapshot()
	}
	a, err := New(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	if warm != nil {
		a.snap = warm
	}
	return a, prov
}

type benchMode int

const (
	// cold: every loop is an autoscaler's first; the snapshot is built
	// from scratch and nothing is memoised.
	cold benchMode = iota
	// warm: every loop starts from what a previous loop over the same
	// cluster left (steady state: the loop runs every 10 s and the
	// cluster barely changes in between), so the snapshot is reused and
	// the simulations, whose inputs did not change, are memoised.
	warm
	// warmNewPending: as warm, but the 500 pending pods are new objects
	// each loop, so the snapshot is reused but filter-out-schedulable and
	// every estimate simulate again.
	warmNewPending
)

// benchRun times RunOnce. In every mode the autoscaler's scale-up state
// and provider are fresh each loop, so the loop takes the same decisions
// as a cold one.
func benchRun(b *testing.B, scalar bool, mode benchMode) {
	klog.SetLogger(klog.Background().V(10)) // quiet
	src, _ := benchWorld(b)
	ctx := context.Background()
	var cache *snapshotCache
	if mode != cold {
		a, _ := benchLoop(b, ctx, src, scalar, nil)
		if err := a.RunOnce(ctx, t0); err != nil {
			b.Fatal(err)
		}
		cache = a.snap
	}
	b.ResetTimer()
	var requested int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if mode == warmNewPending {
			pods, _ := src.Pods(ctx)
			for _, p := range pods {
				if p.Spec.NodeName == "" {
					src.AddPod(p.DeepCopy())
				}
			}
		}
		a, prov := benchLoop(b, ctx, src, scalar, cache)
		b.StartTimer()
		if err := a.RunOnce(ctx, t0); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		requested = 0
		for _, c := range prov.Calls() {
			if c.Op == "IncreaseSize" {
				requested += c.Delta
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(requested), "nodes_requested")
}

// BenchmarkRunOnce is one loop over 1,000 nodes x 30 pods with 500 pending
// pods across 10 node groups: share-aware (the real plugin) and the
// node-level scalar baseline (summed capacity) in the same run, each as a
// warm steady-state loop, a warm loop with new pending pods, and a cold
// first loop.
func BenchmarkRunOnce(b *testing.B) {
	for _, m := range []struct {
		name string
		mode benchMode
	}{{"warm", warm}, {"warm-new-pending", warmNewPending}, {"cold", cold}} {
		b.Run("share-aware/"+m.name, func(b *testing.B) { benchRun(b, false, m.mode) })
		b.Run("scalar-baseline/"+m.name, func(b *testing.B) { benchRun(b, true, m.mode) })
	}
}
