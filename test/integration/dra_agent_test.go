package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
	cdiapi "tags.cncf.io/container-device-interface/pkg/cdi"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/deviceplugin/dra/kubelettest"
	"github.com/gantry-dev/gantry/test/harness"
)

// draInventory is the node's cards for the agent's static backend.
const draInventory = `apiVersion: gantry.dev/v1alpha1
kind: DeviceInventory
spec:
  devices:
  - {id: GPU-a, kind: gpu, model: A100, memoryMiB: 81920, devicePaths: [/dev/null], health: %s}
  - {id: GPU-b, kind: gpu, model: A100, memoryMiB: 81920, devicePaths: [/dev/null]}
`

// TestDRAAgentBinaryServesAsItsShippedIdentity runs the real
// bin/gantry-device-plugin in DRA mode with the shipped DaemonSet's flags
// and the shipped ConfigMap's configuration (only host paths moved into the
// test's directories and the static backend instead of NVML), as the
// shipped service account gantry-dra-driver with a token bound to its pod
// on n1, under the shipped RBAC and admission policy, next to kubelet's own
// DRA manager. The agent publishes n1's slice, registers with kubelet,
// prepares a claim as the CDI device of its share, republishes a card's
// health as a taint, and exits cleanly on SIGTERM.
func TestDRAAgentBinaryServesAsItsShippedIdentity(t *testing.T) {
	cp := harness.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, cp.ApplyFiles(ctx, "manifests/dra/driver-rbac.yaml", "manifests/dra/deviceclasses.yaml"))
	_, err := harness.CreateReadyNode(ctx, cp.Client, harness.NewKWOKNode("n1", nil))
	require.NoError(t, err)

	ds := shippedObject[appsv1.DaemonSet](t, "manifests/dra/agent-daemonset.yaml")
	spec := ds.Spec.Template.Spec
	pod, err := cp.Client.CoreV1().Pods(shippedNamespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry-dra-driver-n1", Namespace: shippedNamespace},
		Spec: corev1.PodSpec{NodeName: "n1", ServiceAccountName: spec.ServiceAccountName,
			Containers: []corev1.Container{{Name: "agent", Image: spec.Containers[0].Image}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, "gantry-dra-driver", spec.ServiceAccountName)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "agent.kubeconfig")
	require.NoError(t, harness.WriteKubeconfig(kubeconfig, serviceAccountConfig(t, ctx, cp, spec.ServiceAccountName, harness.BoundToPod(pod))))

	// The shipped configuration, its CDI directories moved here.
	cm := shippedObject[corev1.ConfigMap](t, "manifests/dra/agent-config.yaml")
	var conf map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &conf))
	require.Equal(t, "dra", conf["mode"], "the shipped DRA-mode configuration")
	specDir, toolkitDir := filepath.Join(dir, "cdi"), filepath.Join(dir, "etc-cdi")
	conf["cdi"] = map[string]any{"specDir": specDir, "toolkitSpecDirs": []string{toolkitDir}}
	confFile := writeYAML(t, filepath.Join(dir, "config.yaml"), conf)
	inventory := filepath.Join(dir, "inventory.yaml")
	writeInventory := func(h device.Health) {
		require.NoError(t, os.WriteFile(inventory, []byte(fmt.Sprintf(draInventory, h)), 0o600))
	}
	writeInventory(device.Healthy)

	// Kubelet starts first, as on a node.
	pluginDir, registrar := filepath.Join(dir, "plugins", contract.DRADriver), filepath.Join(dir, "plugins_registry")
	k := kubelettest.Start(t, t, cp.Client, "n1", filepath.Join(dir, "kubelet"), "")

	port, err := harness.FreePort()
	require.NoError(t, err)
	args := overrideFlags(t, spec.Containers[0].Args, map[string]string{
		"backends":                "static",
		"dra-plugin-dir":          pluginDir,
		"plugin-registration-dir": registrar,
		"metrics-bind-address":    fmt.Sprintf("127.0.0.1:%d", port),
		"config":                  confFile,
	})
	agent := harness.ProcessSpec{Path: "gantry-device-plugin", Args: append(args,
		"--static-inventory="+inventory, "--static-poll=100ms", "--kubeconfig="+kubeconfig),
		Env: []string{"NODE_NAME=n1"}}.Start(t)
	waitReady(t, ctx, agent, fmt.Sprintf("http://127.0.0.1:%d/healthz", port))

	slice := func() *resourceapi.ResourceSlice {
		t.Helper()
		var got *resourceapi.ResourceSlice
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			require.False(t, agent.Exited(), "the agent exited; see %s", agent.LogPath())
			l, err := cp.Client.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{})
			if err != nil || len(l.Items) != 1 {
				return false, nil
			}
			got = &l.Items[0]
			return true, nil
		}), "no slice of n1; see %s", agent.LogPath())
		return got
	}
	t.Run("publishes n1's cards as the driver gpu.gantry.dev", func(t *testing.T) {
		s := slice()
		require.Equal(t, contract.DRADriver, s.Spec.Driver)
		require.Equal(t, "n1", *s.Spec.NodeName)
		c := coredra.Build([]*resourceapi.ResourceSlice{s}, nil)
		require.Empty(t, c.Problems)
		require.Len(t, c.Nodes["n1"].State.Devices, 2)
		require.Len(t, s.OwnerReferences, 1, "the slice is owned by its Node")
		require.Equal(t, "n1", s.OwnerReferences[0].Name)
	})

	t.Run("registers with kubelet and prepares a claim as its share's CDI device", func(t *testing.T) {
		k.Register(t, ctx, registrar)
		p := kubelettest.Allocate(t, cp.Client, "n1", "share-40", "gpu-0", 40)
		k.SetPods(p)
		require.NoError(t, k.M.PrepareResources(ctx, p))
		require.Equal(t, []string{"gantry.dev/gpu=GPU-a-p40"}, k.CDIDevices(t, p))
		// The runtime resolves that name in the specs the agent wrote.
		cache, err := cdiapi.NewCache(cdiapi.WithSpecDirs(specDir), cdiapi.WithAutoRefresh(false))
		require.NoError(t, err)
		require.NotNil(t, cache.GetDevice("gantry.dev/gpu=GPU-a-p40"), "no CDI device gantry.dev/gpu=GPU-a-p40 in %s", specDir)
		require.NoError(t, k.M.UnprepareResources(ctx, p))
	})

	t.Run("republishes a card's health as a taint", func(t *testing.T) {
		writeInventory(device.Unhealthy)
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			for _, d := range slice().Spec.Devices {
				if d.Name == "gpu-0" && len(d.Taints) == 1 && d.Taints[0].Key == contract.DRATaintUnhealthy {
					return true, nil
				}
			}
			return false, nil
		}), "gpu-0 never got the unhealthy taint; see %s", agent.LogPath())
	})

	t.Run("stops cleanly on SIGTERM", func(t *testing.T) {
		require.NoError(t, agent.Signal(syscall.SIGTERM))
		require.NoError(t, agent.Wait(ctx), "see %s", agent.LogPath())
	})
}

// TestDRAAgentBinaryRefusesWhatDRAModeCannotDo: the binary exits at start,
// naming the field, for a DRA-mode configuration with MPS.
func TestDRAAgentBinaryRefusesWhatDRAModeCannotDo(t *testing.T) {
	dir := t.TempDir()
	conf := writeYAML(t, filepath.Join(dir, "config.yaml"), map[string]any{
		"apiVersion": "gantry.dev/v1alpha1", "kind": "DevicePluginConfiguration", "mode": "dra", "mps": map[string]any{"enabled": true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, harness.BinaryPath(t, "gantry-device-plugin"), "--config="+conf, "--node-name=n1").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "output: %s", out)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, string(out), "mps.enabled: Forbidden: mode dra does not run the MPS daemon yet")
}

// shippedObject decodes the one object of a shipped manifest.
func shippedObject[T any](t *testing.T, path string) *T {
	t.Helper()
	objs, err := harness.ReadManifests(path)
	require.NoError(t, err)
	require.Len(t, objs, 1, path)
	out := new(T)
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, out))
	return out
}

// overrideFlags returns the --name=value flags of args with the values of
// set in place, and fails when set names a flag args lacks (the shipped
// flags are what is tested, not a second list).
func overrideFlags(t *testing.T, args []string, set map[string]string) []string {
	t.Helper()
	out := make([]string, 0, len(args))
	seen := map[string]bool{}
	for _, a := range args {
		name, _, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		require.True(t, ok && strings.HasPrefix(a, "--"), "shipped flag %q is not --name=value", a)
		if v, ok := set[name]; ok {
			a, seen[name] = "--"+name+"="+v, true
		}
		out = append(out, a)
	}
	for name := range set {
		require.True(t, seen[name], "the shipped DaemonSet has no --%s", name)
	}
	return out
}

func writeYAML(t *testing.T, path string, v any) string {
	t.Helper()
	data, err := yaml.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}
