package dra_test

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	oci "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2/ktesting"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
	kubeletdra "k8s.io/kubernetes/pkg/kubelet/cm/dra"
	"k8s.io/utils/ptr"
	cdiapi "tags.cncf.io/container-device-interface/pkg/cdi"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/dra"
	"github.com/gantry-dev/gantry/test/harness"
)

const node = "dra-node"

type allReady struct{}

func (allReady) AddSource(string) {}
func (allReady) AllReady() bool   { return true }

func cards() []device.Device {
	var out []device.Device
	for i := 0; i < 2; i++ {
		out = append(out, device.Device{ID: "GPU-" + strconv.Itoa(i), Index: i, Kind: device.GPU, Vendor: "test", Model: "A100",
			MemoryMiB: 80 << 10, Health: device.Healthy, NUMANode: 0})
	}
	return out
}

// kubelet is kubelet's own DRA manager on a state directory.
type kubelet struct {
	m      *kubeletdra.Manager
	cancel context.CancelFunc
	info   *registerapi.PluginInfo
	ctx    context.Context
	// pods are the pods kubelet runs: its reconcile loop unprepares the
	// claims of every other pod. The loop reads them from its own
	// goroutine, so mu guards them.
	mu   sync.Mutex
	pods []*corev1.Pod
}

// running returns the pods kubelet runs.
func (k *kubelet) running() []*corev1.Pod {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.pods)
}

// setPods replaces the pods kubelet runs.
func (k *kubelet) setPods(pods ...*corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pods = pods
}

// startKubelet starts the manager; it is stopped when cleanup ends.
func startKubelet(t, cleanup testing.TB, client kubernetes.Interface, stateDir, registrarDir string) *kubelet {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	m, err := kubeletdra.NewManager(ktesting.NewLogger(t, ktesting.NewConfig()), client, stateDir)
	require.NoError(t, err)
	getNode := func(ctx context.Context) (*corev1.Node, error) {
		return client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	}
	k := &kubelet{m: m, cancel: cancel, ctx: ctx}
	require.NoError(t, m.Start(ctx, k.running, getNode, allReady{}))
	cleanup.Cleanup(k.stop)
	if registrarDir != "" {
		k.register(t, ctx, registrarDir)
	}
	return k
}

func (k *kubelet) stop() {
	k.cancel()
	k.m.Stop()
}

// register does what kubelet's plugin watcher does with the driver's
// registration socket: GetInfo over gRPC, validate and register the
// endpoint with the DRA manager, and report the result back. A driver
// registered before is deregistered first, as the watcher does when its
// socket goes away.
func (k *kubelet) register(t testing.TB, ctx context.Context, registrarDir string) {
	t.Helper()
	if k.info != nil {
		k.m.GetWatcherHandler().DeRegisterPlugin(ctx, k.info.Name, k.info.Endpoint)
	}
	sock := filepath.Join(registrarDir, contract.DRADriver+"-reg.sock")
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	reg := registerapi.NewRegistrationClient(conn)
	var info *registerapi.PluginInfo
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		info, err = reg.GetInfo(ctx, &registerapi.InfoRequest{})
		return err == nil, nil
	}), "GetInfo on %s", sock)
	require.Equal(t, registerapi.DRAPlugin, info.Type)
	h := k.m.GetWatcherHandler()
	require.NoError(t, h.ValidatePlugin(ctx, info.Name, info.Endpoint, info.SupportedVersions))
	require.NoError(t, h.RegisterPlugin(ctx, info.Name, info.Endpoint, info.SupportedVersions, nil))
	_, err = reg.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: true})
	require.NoError(t, err)
	k.info = info
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

// allocate creates a claim the way the scheduler leaves it: allocated to
// device dev with pct percent consumed and reserved for a new pod bound to
// the node, and returns the pod.
func allocate(t *testing.T, client kubernetes.Interface, name, dev string, pct int64) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:       node,
			ResourceClaims: []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: ptr.To(name)}},
			Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Claims: []corev1.ResourceClaim{{Name: "gpu"}}}}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	claim, err := client.ResourceV1().ResourceClaims("default").Create(ctx, &resourceapi.ResourceClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: resourceapi.ResourceClaimSpec{Devices: resourceapi.DeviceClaim{Requests: []resourceapi.DeviceRequest{{
			Name: "gpu", Exactly: &resourceapi.ExactDeviceRequest{DeviceClassName: "gpu.gantry.dev", Capacity: &resourceapi.CapacityRequirements{
				Requests: map[resourceapi.QualifiedName]resource.Quantity{contract.DRACapacityPercent: *resource.NewQuantity(pct, resource.DecimalSI)},
			}},
		}}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	claim.Status.Allocation = &resourceapi.AllocationResult{Devices: resourceapi.DeviceAllocationResult{Results: []resourceapi.DeviceRequestAllocationResult{{
		Request: "gpu", Driver: contract.DRADriver, Pool: node, Device: dev, ShareID: ptr.To(uuid.NewUUID()),
		ConsumedCapacity: map[resourceapi.QualifiedName]resource.Quantity{
			contract.DRACapacityPercent: *resource.NewQuantity(pct, resource.DecimalSI),
			contract.DRACapacityMemory:  *resource.NewQuantity(0, resource.BinarySI),
		},
	}}}}
	claim.Status.ReservedFor = []resourceapi.ResourceClaimConsumerReference{{Resource: "pods", Name: pod.Name, UID: pod.UID}}
	_, err = client.ResourceV1().ResourceClaims("default").UpdateStatus(ctx, claim, metav1.UpdateOptions{})
	require.NoError(t, err)
	return pod
}

func cdiNames(t *testing.T, k *kubelet, pod *corev1.Pod) []string {
	t.Helper()
	info, err := k.m.GetResources(pod, &pod.Spec.Containers[0])
	require.NoError(t, err)
	var out []string
	for _, d := range info.CDIDevices {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
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
	k := startKubelet(t, t, client, kubeletDir, "")
	drv := startDriver(t, t, client, w, dataDir, registrar)
	k.register(t, k.ctx, registrar)

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

	p1 := allocate(t, client, "share-30", "gpu-1", 30)
	k.setPods(p1)
	t.Run("prepare returns the CDI devices of the consumed share", func(t *testing.T) {
		require.NoError(t, k.m.PrepareResources(ctx, p1))
		got := cdiNames(t, k, p1)
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
		require.NoError(t, k.m.PrepareResources(ctx, p1))
		require.Equal(t, got, cdiNames(t, k, p1))
		require.Len(t, drv.Prepared(), 1)
	})

	t.Run("a restarted driver keeps what it prepared and refuses to overcommit a card", func(t *testing.T) {
		drv.Stop()
		drv = startDriver(t, outer, client, w, dataDir, registrar)
		require.Len(t, drv.Prepared(), 1, "prepared claims survive the restart")
		k.register(t, ctx, registrar)
		over := allocate(t, client, "share-80", "gpu-1", 80)
		k.setPods(append(k.running(), over)...)
		err := k.m.PrepareResources(ctx, over)
		require.ErrorContains(t, err, `request "gpu" asks 80% of device "gpu-1", which has 30% prepared already`)
		fits := allocate(t, client, "share-70", "gpu-1", 70)
		k.setPods(append(k.running(), fits)...)
		require.NoError(t, k.m.PrepareResources(ctx, fits))
		require.Equal(t, []string{"gantry.dev/gpu=GPU-1-p70"}, cdiNames(t, k, fits))
		require.Len(t, drv.Prepared(), 2)
	})

	t.Run("a restarted kubelet unprepares through its checkpoint", func(t *testing.T) {
		pods := k.running()
		k.stop()
		k = startKubelet(t, outer, client, kubeletDir, registrar)
		k.setPods(pods...)
		require.Equal(t, []string{"gantry.dev/gpu=GPU-1-p30"}, cdiNames(t, k, p1), "kubelet's checkpoint still names the devices")
		require.NoError(t, k.m.UnprepareResources(ctx, p1))
		require.Len(t, drv.Prepared(), 1)
		// Unprepare is idempotent.
		require.NoError(t, k.m.UnprepareResources(ctx, p1))
		require.Len(t, drv.Prepared(), 1)
	})
}
