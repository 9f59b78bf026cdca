package integration

import (
	"context"
	"fmt"
	"math/rand"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/test/harness"
)

// TestGantrySchedulerEndToEnd runs the real gantry-scheduler binary against
// a real kube-apiserver and etcd with GPU nodes of several models in two
// zones.
func TestGantrySchedulerEndToEnd(t *testing.T) {
	e := startEnv(t, "Binpack")
	e.createNodes(t,
		coretest.MakeNode("a100-z1").Zone("z1").GPUs("A100", 2, 81920).Obj(),
		coretest.MakeNode("t4-z1").Zone("z1").GPUs("T4", 4, 16384).Obj(),
		coretest.MakeNode("t4-z2").Zone("z2").GPUs("T4", 4, 16384).Obj(),
		coretest.MakeNode("v100-z2").Zone("z2").GPUs("V100M32", 4, 32768).Obj(),
		coretest.MakeNode("cpu-z1").Zone("z1").Obj(),
	)
	models := map[string]string{"a100-z1": "A100", "t4-z1": "T4", "t4-z2": "T4", "v100-z2": "V100M32"}
	zones := map[string]string{"a100-z1": "z1", "t4-z1": "z1", "t4-z2": "z2", "v100-z2": "z2", "cpu-z1": "z1"}

	t.Run("share lands on a card of an allowed model", func(t *testing.T) {
		e.createPod(t, coretest.MakePod("infer").GPUPercent(30).Models("V100M32|V100M16").Obj())
		pod := e.waitBound(t, "default", "infer", 30*time.Second)
		assert.Equal(t, "v100-z2", pod.Spec.NodeName)
		a := allocationOf(t, pod)
		require.Len(t, a.Containers, 1)
		require.Len(t, a.Containers[0].Devices, 1)
		assert.Equal(t, 30, a.Containers[0].Devices[0].Units)
	})

	t.Run("two replicas land in different zones", func(t *testing.T) {
		e.createPod(t, coretest.MakePod("web-0").GPUPercent(20).Models("T4").Workload("web").Obj())
		first := e.waitBound(t, "default", "web-0", 30*time.Second)
		e.createPod(t, coretest.MakePod("web-1").GPUPercent(20).Models("T4").Workload("web").Obj())
		second := e.waitBound(t, "default", "web-1", 30*time.Second)
		assert.NotEqual(t, zones[first.Spec.NodeName], zones[second.Spec.NodeName],
			"web-0 on %s, web-1 on %s", first.Spec.NodeName, second.Spec.NodeName)
	})

	t.Run("a pod that fits nowhere stays pending with a specific reason", func(t *testing.T) {
		e.createPod(t, coretest.MakePod("h100-only").GPUPercent(50).Models("H100").Obj())
		note := e.waitEvent(t, "default", "h100-only", 30*time.Second)
		assert.Contains(t, note, "node has no GPU of model H100")
		assert.Contains(t, note, "node has no GPU") // the CPU-only node says so too
		p, err := e.client.CoreV1().Pods("default").Get(context.Background(), "h100-only", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Empty(t, p.Spec.NodeName)
	})

	t.Run("a malformed request gets a clear event and the scheduler keeps running", func(t *testing.T) {
		e.createPod(t, coretest.MakePod("bad").GPUPercent(150).Obj())
		note := e.waitEvent(t, "default", "bad", 30*time.Second)
		assert.Contains(t, note, "spec.containers[0].resources.limits[gantry.dev/gpu-percent]: Invalid value: 150")
		assert.Contains(t, note, "1.50 devices")
		e.createPod(t, coretest.MakePod("garbage-models").GPUPercent(10).Models("T4;rm -rf").Obj())
		assert.Contains(t, e.waitEvent(t, "default", "garbage-models", 30*time.Second), "is not a valid model name")
		// Still alive: the next good pod schedules.
		e.createPod(t, coretest.MakePod("after-bad").GPUPercent(10).Obj())
		e.waitBound(t, "default", "after-bad", 30*time.Second)
	})

	t.Run("a stale allocation from a scheduler that died before binding is replaced", func(t *testing.T) {
		// PreBind wrote devices on the pod, then the scheduler died before
		// Bind: the pod is unbound, so nothing counts the stale record, and
		// the next scheduler writes its own choice over it.
		stale := `{"v":"v1","node":"a100-z1","containers":[{"container":"main","kind":"gpu","devices":[{"id":"gpu-a100-z1-0","index":0,"units":100}]}]}`
		e.createPod(t, coretest.MakePod("orphan").GPUPercent(40).Models("T4").Annotation(contract.AnnotationAllocation, stale).Obj())
		pod := e.waitBound(t, "default", "orphan", 30*time.Second)
		a := allocationOf(t, pod)
		assert.Equal(t, "T4", models[pod.Spec.NodeName])
		assert.Equal(t, 40, a.Containers[0].Devices[0].Units)
	})

	t.Run("writeAllocation Bind puts the devices in the Binding itself", func(t *testing.T) {
		pod := coretest.MakePod("via-binding").GPUPercent(20).Models("A100").Obj()
		pod.Spec.SchedulerName = "gantry-bind"
		e.createPod(t, pod)
		got := e.waitBound(t, "default", "via-binding", 30*time.Second)
		assert.Equal(t, "a100-z1", got.Spec.NodeName)
		assert.Equal(t, 20, allocationOf(t, got).Containers[0].Devices[0].Units)
	})

	t.Run("100 share pods created at once never over-commit a card", func(t *testing.T) {
		rng := rand.New(rand.NewSource(7))
		sizes := []int64{5, 10, 20, 25, 30, 50, 60, 75, 100}
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := 0; i < 100; i++ {
			pod := coretest.MakePod(fmt.Sprintf("burst-%03d", i)).GPUPercent(sizes[rng.Intn(len(sizes))]).Obj()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		// Wait until every burst pod is either bound or was reported unschedulable.
		ctx := context.Background()
		var pods []corev1.Pod
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			list, err := e.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			pods = list.Items
			for _, p := range pods {
				if len(p.Name) > 6 && p.Name[:6] == "burst-" && p.Spec.NodeName == "" && !unschedulable(&p) {
					return false, nil
				}
			}
			return true, nil
		})
		require.NoError(t, err)
		used := map[string]int{}
		bound := 0
		for i := range pods {
			p := &pods[i]
			if p.Spec.NodeName == "" {
				continue
			}
			bound++
			a := allocationOf(t, p)
			for _, c := range a.Containers {
				for _, d := range c.Devices {
					used[d.ID] += d.Units
					assert.Equal(t, models[p.Spec.NodeName], modelOf(t, e, p.Spec.NodeName, d.ID))
				}
			}
		}
		for id, u := range used {
			assert.LessOrEqual(t, u, device.UnitsPerDevice, "device %s over-committed: %d%%", id, u)
		}
		t.Logf("burst: %d pods bound in all, %d devices in use", bound, len(used))
		assert.Greater(t, bound, 30)
	})
	t.Run("kubectl gantry devices shows every card and its holders", func(t *testing.T) {
		out, err := exec.Command(harness.BinaryPath(t, "kubectl-gantry"), "devices", "--kubeconfig", e.cp.KubeconfigPath).CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Contains(t, string(out), "NODE")
		assert.Contains(t, string(out), "default/infer")
		assert.Equal(t, 15, strings.Count(string(out), "\n"), "a header and 14 devices:\n%s", out)
	})
	require.False(t, e.scheduler.Exited(), "gantry-scheduler exited")
}

func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

var inventories sync.Map

// modelOf returns the model of a device from the node's published inventory.
func modelOf(t testing.TB, e *env, node, id string) string {
	t.Helper()
	v, ok := inventories.Load(node)
	if !ok {
		n, err := e.client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
		require.NoError(t, err)
		inv, err := contract.InventoryOf(n)
		require.NoError(t, err)
		v, _ = inventories.LoadOrStore(node, inv)
	}
	d, ok := v.(device.Inventory).ByID(id)
	require.True(t, ok, "device %s not on node %s", id, node)
	return d.Model
}
