package agentmode_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2/ktesting"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/dra/agentmode"
	"github.com/gantry-dev/gantry/test/harness"
)

const node = "dra-node"

const inventory = `apiVersion: gantry.dev/v1alpha1
kind: DeviceInventory
spec:
  devices:
  - {id: npu-0, kind: npu, model: Ascend910B, memoryMiB: 65536, health: %s}
  - {id: npu-1, kind: npu, model: Ascend910B, memoryMiB: 65536}
`

// TestRunPublishesHealthAsTaints runs the agent's DRA mode on a static
// inventory against a real kube-apiserver: the slice lists the cards, and a
// card the inventory marks unhealthy gets the NoSchedule taint, so the
// scheduler (core/dra) counts it as unhealthy.
func TestRunPublishesHealthAsTaints(t *testing.T) {
	cp := harness.Start(t)
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err := harness.CreateReadyNode(ctx, cp.Client, harness.NewKWOKNode(node, nil))
	require.NoError(t, err)
	dir := t.TempDir()
	file := filepath.Join(dir, "inventory.yaml")
	write := func(health device.Health) {
		require.NoError(t, os.WriteFile(file, []byte(fmtInventory(health)), 0o644))
	}
	write(device.Healthy)
	store, err := discovery.NewStore([]discovery.Backend{discovery.NewStatic(file, nil, 100*time.Millisecond)}, nil)
	require.NoError(t, err)
	go func() { _ = store.Run(ctx) }()
	done := make(chan error, 1)
	go func() {
		done <- agentmode.Run(ctx, agentmode.RunConfig{NodeName: node, KubeClient: cp.Client, Store: store,
			CDI: cdi.Config{Dir: filepath.Join(dir, "cdi"), ToolkitDirs: []string{dir}}, PluginDataDir: filepath.Join(dir, "plugin"), RegistrarDir: filepath.Join(dir, "registry")})
	}()

	health := func() map[string]device.Health {
		l, err := cp.Client.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 1 {
			return nil
		}
		c := coredra.Build([]*resourceapi.ResourceSlice{&l.Items[0]}, nil)
		n := c.Nodes[node]
		if n == nil {
			return nil
		}
		out := map[string]device.Health{}
		for _, d := range n.State.Devices {
			out[d.ID] = d.Health
		}
		return out
	}
	waitHealth := func(want map[string]device.Health) {
		t.Helper()
		var got map[string]device.Health
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			got = health()
			return len(got) == len(want) && got["npu-0"] == want["npu-0"] && got["npu-1"] == want["npu-1"], nil
		})
		require.NoError(t, err, "slice health %v, want %v", got, want)
	}
	waitHealth(map[string]device.Health{"npu-0": device.Healthy, "npu-1": device.Healthy})
	write(device.Unhealthy)
	waitHealth(map[string]device.Health{"npu-0": device.Unhealthy, "npu-1": device.Healthy})
	l, err := cp.Client.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, contract.DRATaintUnhealthy, l.Items[0].Spec.Devices[0].Taints[0].Key)
	write(device.Healthy)
	waitHealth(map[string]device.Health{"npu-0": device.Healthy, "npu-1": device.Healthy})
	cancel()
	require.NoError(t, <-done)
}

func fmtInventory(h device.Health) string { return fmt.Sprintf(inventory, h) }
