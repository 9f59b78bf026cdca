package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/kwok"
	"github.com/gantry-dev/gantry/autoscaler/core"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/test/harness"
)

// TestAutoscalerEndToEnd: from zero GPU nodes, 500 pods asking for shares
// of mixed sizes and models are pending on the real gantry-scheduler; the
// autoscaler (kwok provider, loop on a real clock every second) adds nodes
// from the right groups; KWOK runs them; all 500 bind; the pods are deleted
// and the nodes go after the (shortened) unneeded time.
func TestAutoscalerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := startEnv(t, "Binpack")
	harness.StartKWOK(t, e.cp, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The loop logs through a discarding logger: the test reports results.
	lctx := klog.NewContext(ctx, logr.Discard())

	group := func(name, model string, count int) config.NodeGroup {
		return config.NodeGroup{Name: name, MaxSize: 100, PricePerHour: 1, Template: config.NodeTemplate{
			Device: config.DeviceTemplate{Kind: device.GPU, Model: model, Count: count, MemoryMiB: 16384},
			CPU:    resource.MustParse("64"), Memory: resource.MustParse("512Gi"), Pods: 110, Zone: "zone-a",
		}}
	}
	v := &v1alpha1.AutoscalerConfiguration{}
	v1alpha1.SetDefaults_AutoscalerConfiguration(v)
	cfg := v1alpha1.Convert(v)
	cfg.NodeGroups = []config.NodeGroup{group("t4", "T4", 4), group("a100", "A100", 8)}
	cfg.ScaleDown.UnneededTime = 5 * time.Second
	cfg.ScaleDown.DelayAfterAdd = 5 * time.Second
	cfg.ScaleDown.DelayAfterFailure = time.Second
	cfg.ScaleDown.MaxConcurrent = 100

	a, err := core.New(lctx, core.Options{Config: cfg, Provider: kwok.New(e.client, cfg.AllGroups()),
		Source: &source.Client{Client: e.client, DeletePods: true}, Recorder: &record.FakeRecorder{}, Seed: 1})
	require.NoError(t, err)
	var loops sync.WaitGroup
	loops.Add(1)
	go func() {
		defer loops.Done()
		for ctx.Err() == nil {
			if err := a.RunOnce(lctx, time.Now()); err != nil && ctx.Err() == nil {
				t.Logf("loop: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	defer loops.Wait()
	defer cancel()

	// T4: 200 x 50% + 40 x 25% = 110 cards = 28 four-card nodes.
	// A100: 100 x 60% + 100 x 40% + 60 x 100% = 160 cards = 20 eight-card nodes.
	type batch struct {
		n     int
		pct   int64
		model string
	}
	batches := []batch{{200, 50, "T4"}, {40, 25, "T4"}, {100, 60, "A100"}, {100, 40, "A100"}, {60, 100, "A100"}}
	const minimum = 28 + 20
	var pods []*corev1.Pod
	for _, b := range batches {
		for i := 0; i < b.n; i++ {
			pods = append(pods, coretest.MakePod(fmt.Sprintf("%s-%d-%d", strings.ToLower(b.model), b.pct, i)).
				GPUPercent(b.pct).Models(b.model).Requests(100, 128).Obj())
		}
	}
	// Interleave sizes so the scheduler sees them as a mixed stream.
	mixed := make([]*corev1.Pod, 0, len(pods))
	for i := 0; len(mixed) < len(pods); i++ {
		for j := i; j < len(pods); j += 7 {
			if pods[j] != nil {
				mixed = append(mixed, pods[j])
				pods[j] = nil
			}
		}
	}
	start := time.Now()
	for _, p := range mixed {
		_, err := e.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	var bound time.Duration
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := e.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		n := 0
		for _, p := range l.Items {
			if p.Spec.NodeName != "" {
				n++
			}
		}
		if n == len(mixed) {
			bound = time.Since(start)
			return true, nil
		}
		return false, nil
	})
	require.NoError(t, err, "not every pod was bound")
	nodes, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	perGroup := map[string]int{}
	for _, n := range nodes.Items {
		perGroup[n.Labels[cloudprovider.LabelNodeGroup]]++
	}
	t.Logf("RESULT: %d pods bound %.1fs after creation; nodes added %d (t4 %d, a100 %d) against a perfect packing's %d (+%.1f%%)",
		len(mixed), bound.Seconds(), len(nodes.Items), perGroup["t4"], perGroup["a100"], minimum,
		100*float64(len(nodes.Items)-minimum)/minimum)
	require.GreaterOrEqual(t, perGroup["t4"], 28)
	require.GreaterOrEqual(t, perGroup["a100"], 20)

	// Scale-down: delete the pods; the nodes go after the unneeded time.
	require.NoError(t, e.client.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{}))
	deleted := time.Now()
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, nil
	})
	require.NoError(t, err, "nodes were not removed")
	t.Logf("RESULT: every node removed %.1fs after the pods were deleted", time.Since(deleted).Seconds())
}
