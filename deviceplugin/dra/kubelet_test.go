package dra_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	oci "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2/ktesting"
	cdiapi "tags.cncf.io/container-device-interface/pkg/cdi"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/dra"
	"github.com/gantry-dev/gantry/deviceplugin/dra/kubelettest"
	"github.com/gantry-dev/gantry/test/harness"
)

const node = "dra-node"

func cards() []device.Device {
	var out []device.Device
	for i := 0; i < 2; i++ {
		out = append(out, device.Device{ID: "GPU-" + strconv.Itoa(i), Index: i, Kind: device.GPU, Vendor: "test", Model: "A100",
			MemoryMiB: 80 << 10, Health: device.Healthy, NUMANode: 0})
	}
	return out
}

// startDriver starts a driver process's worth of state; it is stopped when
// cleanup ends.
func startDriver(t, cleanup testing.TB, client kubernetes.Interface, w *cdi.Writer, dataDir, registrarDir string) *dra.Driver {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	d, err := dra.New(dra.Config{NodeName: node, KubeClient: client, Devices: cards(), CDI: w, PluginDataDir: dataDir, RegistrarDir: registrarDir})
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx))
	cleanup.Cleanup(d.Stop)
	return d
}

// TestDriverUnderKubeletsDRAManager drives the driver through kubelet's own
// DRA manager over the real DRA gRPC API, with a real kube-apiserver for the
// claims and the published slice.
func TestDriverUnderKubeletsDRAManager(t *testing.T) {
	cp := harness.Start(t)
	client := cp.Client
	ctx := context.Background()
	_, err := harness.CreateReadyNode(ctx, client, harness.NewKWOKNode(node, nil))
	require.NoError(t, err)

	outer := t
	root := t.TempDir()
	cdiDir, registrar := filepath.Join(root, "cdi"), filepath.Join(root, "plugins_registry")
	dataDir, kubeletDir := filepath.Join(root, "plugins", contract.DRADriver), filepath.Join(root, "kubelet")
	w, err := cdi.New(cdi.Config{Dir: cdiDir, ToolkitDirs: []string{t.TempDir()}})
	require.NoError(t, err)
	var cardSpecs []cdi.Card
	for _, d := range cards() {
		cardSpecs = append(cardSpecs, cdi.Card{Device: d, DeviceNodes: []string{"/dev/null"}})
	}
	require.NoError(t, w.Sync(cardSpecs))

	// Kubelet starts first, as on a node: at start it deletes the node's
	// slices, which the driver then publishes again.
	k := kubelettest.Start(t, t, client, node, kubeletDir, "")
	drv := startDriver(t, t, client, w, dataDir, registrar)
	k.Register(t, k.Ctx, registrar)

	t.Run("the node's slice is published and reads back as its cards", func(t *testing.T) {
		var slices []*resourceapi.ResourceSlice
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			l, err := client.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{})
			if err != nil || len(l.Items) == 0 {
				return false, nil
			}
			slices = []*resourceapi.ResourceSlice{&l.Items[0]}
			return true, nil
		}))
		c := coredra.Build(slices, nil)
		require.Empty(t, c.Problems)
		n := c.Nodes[node]
		require.NotNil(t, n)
		require.Len(t, n.State.Devices, 2)
		for i, d := range cards() {
			require.Equal(t, d, n.State.Devices[i].Device)
		}
	})

	p1 := kubelettest.Allocate(t, client, node, "share-30", "gpu-1", 30)
	k.SetPods(p1)
	t.Run("prepare returns the CDI devices of the consumed share", func(t *testing.T) {
		require.NoError(t, k.M.PrepareResources(ctx, p1))
		got := k.CDIDevices(t, p1)
		require.Equal(t, []string{"gantry.dev/gpu=GPU-1-p30"}, got)
		// The runtime's view: what CDI injects follows from the share alone.
		cache, err := cdiapi.NewCache(cdiapi.WithSpecDirs(cdiDir), cdiapi.WithAutoRefresh(false))
		require.NoError(t, err)
		spec := &oci.Spec{Process: &oci.Process{Env: []string{cdi.EnvSharePercent + "=100"}}, Linux: &oci.Linux{}}
		_, err = cache.InjectDevices(spec, got...)
		require.NoError(t, err)
		require.Contains(t, spec.Process.Env, cdi.EnvSharePercent+"=30")
		require.Contains(t, spec.Process.Env, cdi.EnvMemoryLimitMiB+"="+strconv.Itoa(30*(80<<10)/100))
		// Asking again is answered the same.
		require.NoError(t, k.M.PrepareResources(ctx, p1))
		require.Equal(t, got, k.CDIDevices(t, p1))
		require.Len(t, drv.Prepared(), 1)
	})

	t.Run("a restarted driver keeps what it prepared and refuses to overcommit a card", func(t *testing.T) {
		drv.Stop()
		drv = startDriver(t, outer, client, w, dataDir, registrar)
		require.Len(t, drv.Prepared(), 1, "prepared claims survive the restart")
		k.Register(t, ctx, registrar)
		over := kubelettest.Allocate(t, client, node, "share-80", "gpu-1", 80)
		k.SetPods(append(k.Running(), over)...)
		err := k.M.PrepareResources(ctx, over)
		require.ErrorContains(t, err, `request "gpu" asks 80% of device "gpu-1", which has 30% prepared already`)
		fits := kubelettest.Allocate(t, client, node, "share-70", "gpu-1", 70)
		k.SetPods(append(k.Running(), fits)...)
		require.NoError(t, k.M.PrepareResources(ctx, fits))
		require.Equal(t, []string{"gantry.dev/gpu=GPU-1-p70"}, k.CDIDevices(t, fits))
		require.Len(t, drv.Prepared(), 2)
	})

	t.Run("a restarted kubelet unprepares through its checkpoint", func(t *testing.T) {
		pods := k.Running()
		k.Stop()
		k = kubelettest.Start(t, outer, client, node, kubeletDir, registrar)
		k.SetPods(pods...)
		require.Equal(t, []string{"gantry.dev/gpu=GPU-1-p30"}, k.CDIDevices(t, p1), "kubelet's checkpoint still names the devices")
		require.NoError(t, k.M.UnprepareResources(ctx, p1))
		require.Len(t, drv.Prepared(), 1)
		// Unprepare is idempotent.
		require.NoError(t, k.M.UnprepareResources(ctx, p1))
		require.Len(t, drv.Prepared(), 1)
	})
}
