package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gantry-dev/gantry/core/coretest"
)

// BenchmarkSchedulerThroughput measures pods/s through the real
// gantry-scheduler binary for its stock default-scheduler profile and its
// Gantry profiles (allocation written in PreBind; in the Binding; in the
// Binding and tuned as shipped: every node scored, the stock CPU/memory
// scorers off), on the same nodes and the same pods, in one run:
//
//	go test -run '^$' -bench SchedulerThroughput -benchtime 1x ./test/integration/
//
// Each round creates the pods for one profile (16 concurrent creators) and
// stops the clock when the last one is bound; the two profiles alternate.
func BenchmarkSchedulerThroughput(b *testing.B) {
	const nodes, pods = 500, 2000
	e := startEnv(b, "FGD")
	ctx := context.Background()
	parallel(b, nodes, func(i int) error {
		_, err := e.createNodeErr(ctx, coretest.MakeNode(fmt.Sprintf("gpu-%04d", i)).Zone(fmt.Sprintf("z%d", i%3)).
			CPU(96000, 786432).GPUs("A100", 8, 81920).Obj())
		return err
	})
	sizes := []int64{10, 25, 30, 50, 100}
	rates := map[string][]float64{}
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		for _, profile := range []string{"default-scheduler", "gantry-scheduler", "gantry-bind", "gantry-shipped"} {
			start := time.Now()
			parallel(b, pods, func(i int) error {
				p := coretest.MakePod(fmt.Sprintf("%s-%d-%04d", profile, round, i)).GPUPercent(sizes[i%len(sizes)]).Requests(500, 1024).Obj()
				p.Spec.SchedulerName = profile
				_, err := e.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
				return err
			})
			if err := waitAllBound(ctx, e, pods); err != nil {
				b.Fatalf("%s: %v", profile, err)
			}
			elapsed := time.Since(start)
			rates[profile] = append(rates[profile], float64(pods)/elapsed.Seconds())
			b.Logf("%s: %d pods bound in %v (%.0f pods/s)", profile, pods, elapsed.Round(time.Millisecond), float64(pods)/elapsed.Seconds())
			zero := int64(0)
			if err := e.client.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{}); err != nil {
				b.Fatal(err)
			}
			if err := waitNoPods(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	def, gan, bind, shipped := mean(rates["default-scheduler"]), mean(rates["gantry-scheduler"]), mean(rates["gantry-bind"]), mean(rates["gantry-shipped"])
	b.ReportMetric(def, "default-pods/s")
	b.ReportMetric(gan, "gantry-prebind-pods/s")
	b.ReportMetric(bind, "gantry-bind-pods/s")
	b.ReportMetric(gan/def, "prebind/default")
	b.ReportMetric(bind/def, "bind/default")
	b.ReportMetric(shipped, "gantry-shipped-pods/s")
	b.ReportMetric(shipped/def, "shipped/default")
	b.ReportMetric(shipped/bind, "shipped/bind")
}

func (e *env) createNodeErr(ctx context.Context, n *corev1.Node) (*corev1.Node, error) {
	return createReadyNode(ctx, e, n)
}

func parallel(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func waitAllBound(ctx context.Context, e *env, want int) error {
	return wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := e.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false, nil
		}
		bound := 0
		for i := range list.Items {
			if list.Items[i].Spec.NodeName != "" {
				bound++
			}
		}
		return bound >= want, nil
	})
}

func waitNoPods(ctx context.Context, e *env) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := e.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return err == nil && len(list.Items) == 0, nil
	})
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
