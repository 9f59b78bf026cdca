package handofftest

import (
	"context"
	"math/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/discovery/nvmltest"
)

// nodeHealth returns the health of each GPU in the node's inventory
// annotation, or nil before the first publish.
func (e *env) nodeHealth() []device.Health {
	n, err := e.client.CoreV1().Nodes().Get(e.ctx, nodeName, metav1.GetOptions{})
	require.NoError(e.t, err)
	inv, err := contract.InventoryOf(n)
	if err != nil {
		return nil
	}
	var out []device.Health
	for _, d := range inv.Devices {
		out = append(out, d.Health)
	}
	return out
}

func (e *env) waitNodeHealth(unhealthy int) {
	e.t.Helper()
	require.Eventually(e.t, func() bool {
		h := e.nodeHealth()
		if len(h) != gpus {
			return false
		}
		for i, x := range h {
			if (i == unhealthy) != (x == device.Unhealthy) {
				return false
			}
		}
		return true
	}, 20*time.Second, 5*time.Millisecond, "node inventory never showed GPU %d alone unhealthy", unhealthy)
}

// TestHealthBothWays takes GPU 2 down with XID 79 on the NVML mock and
// brings it back after the recovery window and a reset: kubelet's allocatable (fed by
// ListAndWatch) and the node's inventory annotation follow both ways, and a
// pod the scheduler had put on GPU 2 before it failed is steered elsewhere.
func TestHealthBothWays(t *testing.T) {
	e := newEnv(t, true)
	e.waitNodeHealth(-1)
	rng := rand.New(rand.NewSource(2))
	used := make([]int, gpus)
	for i := range used {
		if i != 2 {
			used[i] = 100 // the scheduler sees only GPU 2 with room
		}
	}
	stranded := e.schedule(rng, []podSpec{{name: "on-gpu-2", containers: []int{10}}}, used)
	require.Equal(t, nvmltest.UUID(2), mustDecode(t, stranded[0]).Containers[0].Devices[0].ID)

	e.nvml.InjectXID(2, 79)
	e.k.waitForGPUs(700, 800)
	e.waitNodeHealth(2)

	var admitted []*corev1.Pod
	require.Empty(t, e.admitAll(stranded, &admitted))
	hits, misses := e.verifyRecords(admitted)
	require.Equal(t, 0, hits)
	require.Len(t, misses, 1)
	t.Logf("steered away from the failed GPU: %s", misses[0])

	// XID 79 needs a GPU reset: quiet time alone does not bring it back.
	e.clock.Step(10 * time.Minute)
	time.Sleep(100 * time.Millisecond) // many recovery checks (one per 2 ms event wait)
	e.k.waitForGPUs(700, 800)
	// A reset: the GPU stops answering, then answers again.
	e.nvml.SetLost(2, true)
	time.Sleep(100 * time.Millisecond)
	e.nvml.SetLost(2, false)
	e.k.waitForGPUs(800, 800)
	e.waitNodeHealth(-1)
}

// TestBadInputKeepsServing sends Allocate malformed slot IDs over the
// plugin's socket while kubelet uses it: each gets a specific error, and
// kubelet's next admission works.
func TestBadInputKeepsServing(t *testing.T) {
	e := newEnv(t, true)
	conn, err := grpc.NewClient("unix://"+filepath.Join(pluginDir, "gantry-gpu.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	client := pluginapi.NewDevicePluginClient(conn)
	for ids, want := range map[string]string{
		"GPU-x":                                `slot id "GPU-x": missing "::" separator`,
		nvmltest.UUID(1) + "::-1":              "slot index must be 0..99",
		"GPU-nope::3":                          `which this node does not have`,
		nvmltest.UUID(1) + "::" + "not-a-slot": "slot index must be 0..99",
	} {
		_, err := client.Allocate(context.Background(), &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: []string{ids}}}})
		require.Equal(t, codes.InvalidArgument, status.Code(err), ids)
		require.Contains(t, err.Error(), want)
	}
	pods := e.schedule(rand.New(rand.NewSource(4)), sameSize("after", 3, 40), make([]int, gpus))
	var admitted []*corev1.Pod
	require.Empty(t, e.admitAll(pods, &admitted))
	hits, _ := e.verifyRecords(admitted)
	require.Equal(t, 3, hits)
}

func mustDecode(t *testing.T, p *corev1.Pod) contract.Allocation {
	t.Helper()
	a, err := contract.DecodeAllocation(p.Annotations[contract.AnnotationAllocation])
	require.NoError(t, err)
	return a
}
