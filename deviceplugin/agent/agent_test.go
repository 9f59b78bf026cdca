package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	cdiapi "tags.cncf.io/container-device-interface/pkg/cdi"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/deviceplugin/agent"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/mps"
)

const npus = `apiVersion: gantry.dev/v1alpha1
kind: DeviceInventory
spec:
  devices:
  - {id: npu-0, kind: npu, model: Ascend910B, memoryMiB: 65536}
  - {id: npu-1, kind: npu, model: Ascend910B, memoryMiB: 65536}
`

func config(t *testing.T, file string) agent.Config {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "inventory.yaml")
	require.NoError(t, os.WriteFile(p, []byte(file), 0o644))
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	return agent.Config{
		Client: client, Node: "n1",
		Backends:           []discovery.Backend{discovery.NewStatic(p, nil, time.Hour)},
		SocketDir:          dir,
		KubeletSocket:      filepath.Join(dir, "kubelet.sock"), // no kubelet: the plugin waits
		PodResourcesSocket: filepath.Join(dir, "pod-resources.sock"),
		WatchInterval:      10 * time.Millisecond,
		Recorder:           record.NewFakeRecorder(10),
	}
}

func TestRunPublishesAndStops(t *testing.T) {
	cfg := config(t, npus)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- agent.Run(ctx, cfg) }()
	require.Eventually(t, func() bool {
		n, err := cfg.Client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		require.NoError(t, err)
		return n.Labels[contract.LabelNPUCount] == "2" && n.Labels[contract.LabelAccelerator] == "npu"
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	cfg := config(t, npus)
	cfg.Node = ""
	require.EqualError(t, agent.Run(context.Background(), cfg), "no node name (set NODE_NAME)")

	cfg = config(t, npus+"  - {id: npu-2, kind: npu, model: Ascend910B, memoryMiB: -1}\n")
	err := agent.Run(context.Background(), cfg)
	require.ErrorContains(t, err, "discovering devices with backend static")
	require.ErrorContains(t, err, "spec.devices[2].memoryMiB: Invalid value: -1: must be positive")

	cfg = config(t, npus)
	cfg.MPS = &mps.Config{ControlBinary: "nvidia-cuda-mps-control", PipeDir: "/p", LogDir: "/l", ShmDir: "/s",
		HealthInterval: time.Second, BackoffInitial: time.Second, BackoffMax: time.Second}
	require.EqualError(t, agent.Run(context.Background(), cfg), "MPS needs the cdi strategy and NVML")
}

// TestRunWritesCDISpecs: under the cdi strategy the agent writes a valid
// spec per device before serving, with the NPUs' device nodes.
func TestRunWritesCDISpecs(t *testing.T) {
	cfg := config(t, `apiVersion: gantry.dev/v1alpha1
kind: DeviceInventory
spec:
  devices:
  - {id: npu-0, kind: npu, model: Ascend910B, memoryMiB: 65536, devicePaths: [/dev/null]}
`)
	specDir := t.TempDir()
	cfg.CDI = &cdi.Config{Dir: specDir, ToolkitDirs: []string{t.TempDir()}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- agent.Run(ctx, cfg) }()
	path := filepath.Join(specDir, "gantry.dev-npu_npu-0.json")
	require.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, 10*time.Second, 5*time.Millisecond)
	spec, err := cdiapi.ReadSpec(path, 0)
	require.NoError(t, err)
	require.Equal(t, "gantry.dev/npu", spec.Kind)
	require.Equal(t, "/dev/null", spec.ContainerEdits.DeviceNodes[0].Path)
	cancel()
	require.NoError(t, <-done)
}
