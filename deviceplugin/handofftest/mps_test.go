package handofftest

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// TestMPS runs the agent with MPS on every GPU. Every share container gets
// the daemon's pipe and shm and the limits of its slots alone; whole-card
// containers get no limits. When the daemon dies, kubelet loses every slot
// until the agent has started a new one, and the published inventory says
// so; the cards are in EXCLUSIVE_PROCESS mode while the daemon runs.
func TestMPS(t *testing.T) {
	e := newMPSEnv(t)
	for i := 0; i < gpus; i++ {
		require.Equal(t, nvml.COMPUTEMODE_EXCLUSIVE_PROCESS, e.nvml.ComputeMode(i))
	}
	require.Eventually(t, func() bool { return e.published(device.IsolationMPS, device.Healthy) }, 20*time.Second, 10*time.Millisecond,
		"the node publishes isolation mps on every GPU")

	rng := rand.New(rand.NewSource(13))
	pods := e.schedule(rng, []podSpec{{name: "a", containers: []int{25}}, {name: "b", containers: []int{10, 40}},
		{name: "c", containers: []int{100}}, {name: "d", containers: []int{200, 5}}}, make([]int, gpus))
	require.Len(t, pods, 4)
	var admitted []*corev1.Pod
	require.Empty(t, e.admitAll(pods, &admitted)) // checks every container's MPS mounts and limits

	// The daemon dies and the next nine starts fail (backoff 10 ms up to
	// 50 ms): its cards are withdrawn from kubelet and marked Unhealthy in
	// the inventory, then back once a start succeeds.
	require.NoError(t, os.WriteFile(filepath.Join(e.mps.PipeDir, "fail-starts"), []byte("9"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(e.mps.PipeDir, "running")))
	e.k.waitForGPUs(0, gpus*100)
	require.Eventually(t, func() bool { return e.published(device.IsolationMPS, device.Unhealthy) }, 20*time.Second, 5*time.Millisecond)
	e.k.waitForGPUs(gpus*100, gpus*100)
	require.Eventually(t, func() bool { return e.published(device.IsolationMPS, device.Healthy) }, 20*time.Second, 10*time.Millisecond)

	more := e.schedule(rng, []podSpec{{name: "after", containers: []int{30}}}, usedBy(e, admitted))
	require.Empty(t, e.admitAll(more, &admitted))
	hits, misses := e.verifyRecords(admitted)
	require.Empty(t, misses)
	require.Equal(t, 7, hits)

	e.stopAgent()
	for i := 0; i < gpus; i++ {
		require.Equal(t, nvml.COMPUTEMODE_DEFAULT, e.nvml.ComputeMode(i), "GPU %d compute mode restored", i)
	}
}

// published reports whether the node's inventory shows every GPU with the
// given isolation and health.
func (e *env) published(iso device.Isolation, h device.Health) bool {
	n, err := e.client.CoreV1().Nodes().Get(e.ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return false
	}
	inv, err := contract.InventoryOf(n)
	if err != nil || len(inv.Devices) != gpus {
		return false
	}
	for _, d := range inv.Devices {
		if d.Isolation != iso || d.Health != h {
			return false
		}
	}
	return true
}

// usedBy returns the units kubelet gave the admitted pods, per GPU index.
func usedBy(e *env, admitted []*corev1.Pod) []int {
	used := make([]int, gpus)
	for _, p := range admitted {
		for _, c := range p.Spec.Containers {
			for _, id := range e.k.devices(p, c.Name) {
				dev, _, err := contract.ParseSlotID(id)
				require.NoError(e.t, err)
				used[indexOf(dev)]++
			}
		}
	}
	return used
}
