// Package kubelettest runs kubelet's own DRA manager
// (k8s.io/kubernetes/pkg/kubelet/cm/dra) against a DRA driver in a test: it
// registers the driver the way kubelet's plugin watcher does, over the
// driver's registration socket, and prepares and unprepares the claims of
// the pods it is told kubelet runs. It also creates claims the way the
// scheduler leaves them. Tests of the driver in-process and of the node
// agent's binary share it.
package kubelettest

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

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

	"github.com/gantry-dev/gantry/core/contract"
)

type allReady struct{}

func (allReady) AddSource(string) {}
func (allReady) AllReady() bool   { return true }

// Kubelet is kubelet's own DRA manager on a state directory, for one node.
type Kubelet struct {
	M      *kubeletdra.Manager
	Ctx    context.Context
	node   string
	cancel context.CancelFunc
	info   *registerapi.PluginInfo
	// pods are the pods kubelet runs: its reconcile loop unprepares the
	// claims of every other pod. The loop reads them from its own
	// goroutine, so mu guards them.
	mu   sync.Mutex
	pods []*corev1.Pod
}

// Running returns the pods kubelet runs.
func (k *Kubelet) Running() []*corev1.Pod {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.pods)
}

// SetPods replaces the pods kubelet runs.
func (k *Kubelet) SetPods(pods ...*corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pods = pods
}

// Start starts the manager of node with its state in stateDir; it is
// stopped when cleanup ends. With registrarDir, the driver whose
// registration socket is there is registered at once (see Register).
func Start(t, cleanup testing.TB, client kubernetes.Interface, node, stateDir, registrarDir string) *Kubelet {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	m, err := kubeletdra.NewManager(ktesting.NewLogger(t, ktesting.NewConfig()), client, stateDir)
	require.NoError(t, err)
	getNode := func(ctx context.Context) (*corev1.Node, error) {
		return client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	}
	k := &Kubelet{M: m, Ctx: ctx, node: node, cancel: cancel}
	require.NoError(t, m.Start(ctx, k.Running, getNode, allReady{}))
	cleanup.Cleanup(k.Stop)
	if registrarDir != "" {
		k.Register(t, ctx, registrarDir)
	}
	return k
}

// Stop stops the manager.
func (k *Kubelet) Stop() {
	k.cancel()
	k.M.Stop()
}

// Register does what kubelet's plugin watcher does with the driver's
// registration socket: GetInfo over gRPC (waiting for the socket to
// answer), validate and register the endpoint with the DRA manager, and
// report the result back. A driver registered before is deregistered
// first, as the watcher does when its socket goes away.
func (k *Kubelet) Register(t testing.TB, ctx context.Context, registrarDir string) {
	t.Helper()
	if k.info != nil {
		k.M.GetWatcherHandler().DeRegisterPlugin(ctx, k.info.Name, k.info.Endpoint)
	}
	sock := filepath.Join(registrarDir, contract.DRADriver+"-reg.sock")
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	reg := registerapi.NewRegistrationClient(conn)
	var info *registerapi.PluginInfo
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		info, err = reg.GetInfo(ctx, &registerapi.InfoRequest{})
		return err == nil, nil
	}), "GetInfo on %s", sock)
	require.Equal(t, registerapi.DRAPlugin, info.Type)
	require.Equal(t, contract.DRADriver, info.Name)
	h := k.M.GetWatcherHandler()
	require.NoError(t, h.ValidatePlugin(ctx, info.Name, info.Endpoint, info.SupportedVersions))
	require.NoError(t, h.RegisterPlugin(ctx, info.Name, info.Endpoint, info.SupportedVersions, nil))
	_, err = reg.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: true})
	require.NoError(t, err)
	k.info = info
}

// CDIDevices returns the sorted CDI device names kubelet hands the pod's
// first container.
func (k *Kubelet) CDIDevices(t testing.TB, pod *corev1.Pod) []string {
	t.Helper()
	info, err := k.M.GetResources(pod, &pod.Spec.Containers[0])
	require.NoError(t, err)
	var out []string
	for _, d := range info.CDIDevices {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

// Allocate creates a claim in namespace default the way the scheduler
// leaves it: allocated to the DRA device dev of node's pool with pct
// percent consumed, reserved for a new pod bound to the node, and returns
// the pod.
func Allocate(t testing.TB, client kubernetes.Interface, node, name, dev string, pct int64) *corev1.Pod {
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
