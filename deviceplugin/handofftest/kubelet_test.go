package handofftest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
	kubeletpodresources "k8s.io/kubernetes/pkg/kubelet/apis/podresources"
	"k8s.io/kubernetes/pkg/kubelet/cm/containermap"
	"k8s.io/kubernetes/pkg/kubelet/cm/devicemanager"
	"k8s.io/kubernetes/pkg/kubelet/cm/topologymanager"
	"k8s.io/kubernetes/pkg/kubelet/lifecycle"

	"github.com/gantry-dev/gantry/core/contract"
)

const (
	pluginDir = "/var/lib/kubelet/device-plugins"
	gpuRes    = string(contract.ResourceGPUPercent)
)

// lockFile serializes the tests of every checkout on the machine: two
// test binaries sharing kubelet's device-plugin directory would wipe each
// other's sockets.
const lockFile = "/run/lock/gantry-handofftest.lock"

// requireKubeletDir skips unless the test may own kubelet's device-plugin
// directory, waits until no other test process on the machine holds it, and
// empties it before and after the test.
func requireKubeletDir(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("kubelet's device manager serves at " + pluginDir + "; run as root")
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(lockFile), 0o755))
	lock, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o600)
	require.NoError(t, err)
	require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX), "locking %s", lockFile)
	// Registered first, so it runs after the directory's cleanup below.
	t.Cleanup(func() { _ = lock.Close() })
	if _, err := os.Stat(filepath.Join(pluginDir, "kubelet.sock")); err == nil {
		if _, mine := os.Stat(filepath.Join(pluginDir, ".gantry-handofftest")); mine != nil {
			t.Skip("a real kubelet seems to own " + pluginDir)
		}
	}
	_, statErr := os.Stat(filepath.Dir(pluginDir))
	createdParent := os.IsNotExist(statErr)
	wipe := func() {
		require.NoError(t, os.RemoveAll(pluginDir))
		require.NoError(t, os.MkdirAll(pluginDir, 0o750))
		require.NoError(t, os.WriteFile(filepath.Join(pluginDir, ".gantry-handofftest"), nil, 0o600))
	}
	wipe()
	t.Cleanup(func() {
		require.NoError(t, os.RemoveAll(pluginDir))
		if createdParent {
			_ = os.Remove(filepath.Dir(pluginDir))
		}
	})
}

// kubelet is the part of kubelet that admits pods with devices: the real
// device manager, a pod manager (the active pods), and the real
// PodResources server over the two.
type kubelet struct {
	t      *testing.T
	logger klog.Logger
	mgr    *devicemanager.ManagerImpl
	prDir  string
	prSrv  *grpc.Server

	mu     sync.Mutex
	active map[types.UID]*corev1.Pod
	order  []types.UID
}

// startKubelet starts kubelet with the given active pods (kept across a
// restart, as kubelet re-reads them from the API server).
func startKubelet(t *testing.T, prDir string, active map[types.UID]*corev1.Pod, order []types.UID) *kubelet {
	t.Helper()
	logger := ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(0)))
	k := &kubelet{t: t, logger: logger, prDir: prDir, active: active, order: order}
	if k.active == nil {
		k.active = map[types.UID]*corev1.Pod{}
	}
	mgr, err := devicemanager.NewManagerImpl(logger, nil, topologymanager.NewFakeManager(logger))
	require.NoError(t, err)
	require.NoError(t, mgr.Start(logger, k.activePods, readySources{}, containermap.NewContainerMap(), sets.New[string]()))
	k.mgr = mgr

	sock := filepath.Join(prDir, "kubelet.sock")
	_ = os.Remove(sock)
	lis, err := net.Listen("unix", sock)
	require.NoError(t, err)
	k.prSrv = grpc.NewServer()
	podresourcesv1.RegisterPodResourcesListerServer(k.prSrv, kubeletpodresources.NewV1PodResourcesServer(klog.NewContext(context.Background(), logger),
		kubeletpodresources.PodResourcesProviders{Pods: k, Devices: devicesProvider{mgr}, Cpus: noCPUs{}, Memory: noMemory{}, DynamicResources: noDRA{}}))
	go func() { _ = k.prSrv.Serve(lis) }()
	return k
}

// restart stops kubelet and starts a new one over the same checkpoint and
// active pods; the new device manager wipes the plugin sockets, as kubelet
// does on start.
func (k *kubelet) restart() *kubelet {
	k.stop()
	k.mu.Lock()
	active, order := k.active, k.order
	k.mu.Unlock()
	return startKubelet(k.t, k.prDir, active, order)
}

func (k *kubelet) stop() {
	k.prSrv.Stop()
	require.NoError(k.t, k.mgr.Stop(k.logger))
}

// waitForGPUs waits until kubelet counts healthy slots of the GPU resource.
func (k *kubelet) waitForGPUs(healthy, total int) {
	k.t.Helper()
	require.Eventually(k.t, func() bool {
		capacity, allocatable, _ := k.mgr.GetCapacity(k.logger)
		c, a := capacity[corev1.ResourceName(gpuRes)], allocatable[corev1.ResourceName(gpuRes)]
		return c.Value() == int64(total) && a.Value() == int64(healthy)
	}, 20*time.Second, 5*time.Millisecond, "kubelet never saw %d/%d healthy slots", healthy, total)
}

// admit runs kubelet's device admission for a pod: the pod becomes active,
// then each container gets devices in order (init containers first). A
// rejected pod stops being active, as kubelet fails it.
func (k *kubelet) admit(ctx context.Context, pod *corev1.Pod) error {
	k.mu.Lock()
	k.active[pod.UID] = pod
	k.order = append(k.order, pod.UID)
	k.mu.Unlock()
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if err := k.mgr.Allocate(ctx, pod, &c, lifecycle.AddOperation); err != nil {
			k.mu.Lock()
			delete(k.active, pod.UID)
			k.mu.Unlock()
			return err
		}
	}
	return nil
}

// release ends pods, as kubelet does when they finish or are deleted: they
// stop being active, and the device manager frees their devices at its
// next look at the active pods (every PodResources List makes one).
func (k *kubelet) release(pods ...*corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range pods {
		delete(k.active, p.UID)
	}
}

// devices returns the slot IDs kubelet gave a container, sorted.
func (k *kubelet) devices(pod *corev1.Pod, container string) []string {
	var ids []string
	for id := range k.mgr.GetDevices(string(pod.UID), container)[gpuRes] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (k *kubelet) activePods() []*corev1.Pod {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*corev1.Pod
	for _, uid := range k.order {
		if p, ok := k.active[uid]; ok {
			out = append(out, p)
		}
	}
	return out
}

// PodsProvider.
func (k *kubelet) GetActivePods() []*corev1.Pod { return k.activePods() }
func (k *kubelet) GetPods() []*corev1.Pod       { return k.activePods() }
func (k *kubelet) GetPodByName(ns, name string) (*corev1.Pod, bool) {
	for _, p := range k.activePods() {
		if p.Namespace == ns && p.Name == name {
			return p, true
		}
	}
	return nil, false
}

type readySources struct{}

func (readySources) AddSource(string) {}
func (readySources) AllReady() bool   { return true }

// devicesProvider adapts the device manager to the PodResources server, as
// kubelet's container manager does.
type devicesProvider struct{ m *devicemanager.ManagerImpl }

func (d devicesProvider) UpdateAllocatedDevices(l klog.Logger) { d.m.UpdateAllocatedDevices(l) }
func (d devicesProvider) GetDevices(uid, container string) []*podresourcesv1.ContainerDevices {
	return toContainerDevices(d.m.GetDevices(uid, container))
}
func (d devicesProvider) GetAllocatableDevices(l klog.Logger) []*podresourcesv1.ContainerDevices {
	return toContainerDevices(d.m.GetAllocatableDevices(l))
}

func toContainerDevices(devs devicemanager.ResourceDeviceInstances) []*podresourcesv1.ContainerDevices {
	var out []*podresourcesv1.ContainerDevices
	for res, byID := range devs {
		for id, dev := range byID {
			if dev.GetTopology() == nil {
				out = append(out, &podresourcesv1.ContainerDevices{ResourceName: res, DeviceIds: []string{id}})
				continue
			}
			for _, n := range dev.GetTopology().GetNodes() {
				out = append(out, &podresourcesv1.ContainerDevices{ResourceName: res, DeviceIds: []string{id},
					Topology: &podresourcesv1.TopologyInfo{Nodes: []*podresourcesv1.NUMANode{{ID: n.GetID()}}}})
			}
		}
	}
	return out
}

type noCPUs struct{}

func (noCPUs) GetCPUs(*corev1.Pod, *corev1.Container) []int64 { return nil }
func (noCPUs) GetPodCPUs(string) []int64                      { return nil }
func (noCPUs) GetAllocatableCPUs() []int64                    { return nil }

type noMemory struct{}

func (noMemory) GetMemory(klog.Logger, *corev1.Pod, *corev1.Container) []*podresourcesv1.ContainerMemory {
	return nil
}
func (noMemory) GetPodMemory(klog.Logger, string) []*podresourcesv1.ContainerMemory { return nil }
func (noMemory) GetAllocatableMemory(klog.Logger) []*podresourcesv1.ContainerMemory { return nil }

type noDRA struct{}

func (noDRA) GetDynamicResources(klog.Logger, *corev1.Pod, *corev1.Container) []*podresourcesv1.DynamicResource {
	return nil
}

var _ = fmt.Sprintf
