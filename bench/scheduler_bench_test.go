package bench

import (
	"context"
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/scheduler/metrics"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/simulate"
)

// baselineProfile is kube-scheduler's stock profile: gantry.dev resources
// are plain node-level scalars to NodeResourcesFit.
const baselineProfile = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: default-scheduler
    percentageOfNodesToScore: 100
`

// loadedCluster returns n nodes of 8 GPUs, each with six pods holding
// 100+50+30+30+25+10 percent spread over its first four cards.
func loadedCluster(b *testing.B, n int) *simulate.Cluster {
	b.Helper()
	c := simulate.NewCluster()
	shares := []struct{ dev, units int }{{0, 100}, {1, 50}, {1, 30}, {2, 30}, {2, 25}, {3, 10}}
	for i := 0; i < n; i++ {
		w := coretest.MakeNode(fmt.Sprintf("node-%05d", i)).CPU(96000, 786432).GPUs("A100", 8, 81920)
		node := w.Obj()
		node.Status.Allocatable[v1.ResourcePods] = node.Status.Allocatable[v1.ResourceCPU]
		c.AddNode(node, "")
		inv := w.Inventory()
		for j, s := range shares {
			d := inv.Devices[s.dev]
			value, err := contract.EncodeAllocation(contract.Allocation{Node: node.Name, Containers: []contract.ContainerAllocation{{
				Container: "main", Kind: d.Kind, Devices: []contract.DeviceShare{{ID: d.ID, Index: d.Index, Units: s.units}},
			}}})
			if err != nil {
				b.Fatal(err)
			}
			pod := coretest.MakePod(fmt.Sprintf("p-%05d-%d", i, j)).GPUPercent(int64(s.units)).Requests(1000, 4096).
				Annotation(contract.AnnotationAllocation, value).Node(node.Name).Obj()
			if err := c.Bind(pod); err != nil {
				b.Fatal(err)
			}
		}
	}
	return c
}

// BenchmarkFilterScore measures one scheduling cycle's filtering and scoring
// of a 30% share over every node, through the real framework: Gantry's
// profile (card-by-card fit, FGD or binpack) against kube-scheduler's stock
// profile on the same nodes (node-level sums, LeastAllocated).
func BenchmarkFilterScore(b *testing.B) {
	metrics.Register()
	ctx := klog.NewContext(context.Background(), klog.Background().V(0))
	pod := coretest.MakePod("incoming").GPUPercent(30).Requests(1000, 4096).Obj()
	for _, n := range []int{1000, 5000} {
		c := loadedCluster(b, n)
		profiles := []struct {
			name string
			opts simulate.Options
		}{
			{"default-profile", simulate.Options{Profile: baselineProfile, Scorer: "NodeResourcesFit"}},
			{"gantry-binpack", simulate.Options{Args: args("Binpack", nil)}},
			{"gantry-fgd", simulate.Options{Args: args("FGD", []float64{50, 30, 100})}},
		}
		for _, p := range profiles {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, p.name), func(b *testing.B) {
				s, err := simulate.NewScheduler(ctx, c, p.opts)
				if err != nil {
					b.Fatal(err)
				}
				if r := s.Rank(ctx, pod); r.Node == "" {
					b.Fatalf("no node: %v", r.Status)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if r := s.Rank(ctx, pod); r.Node == "" {
						b.Fatalf("no node: %v", r.Status)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
			})
		}
	}
}

func args(policy string, shapes []float64) *gantryconfig.DeviceShareArgs {
	a := &gantryconfig.DeviceShareArgs{Policy: "Binpack", ZoneSpreadWeight: 70, WorkloadCoveragePercent: 95}
	a.Policy = policyType(policy)
	for _, u := range shapes {
		a.Workload = append(a.Workload, shape(int(u)))
	}
	return a
}
