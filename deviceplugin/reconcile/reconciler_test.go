package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/reconcile"
)

const node = "node-a"

type devices struct{ inv device.Inventory }

func (d devices) Snapshot() (device.Inventory, <-chan struct{}) { return d.inv, nil }

func gpus(n int) device.Inventory {
	var inv device.Inventory
	for i := 0; i < n; i++ {
		inv.Devices = append(inv.Devices, device.Device{ID: fmt.Sprintf("GPU-%d", i), Index: i, Kind: device.GPU,
			Model: "A100", MemoryMiB: 40960, Health: device.Healthy, NUMANode: 0})
	}
	return inv
}

func slots(i, n int) []string {
	var out []string
	for s := 0; s < n; s++ {
		out = append(out, contract.SlotID(fmt.Sprintf("GPU-%d", i), s))
	}
	return out
}

// kubelet is a fake PodResources API.
type kubelet struct {
	pods map[string]map[string][]string
	err  error
}

func (k *kubelet) List(context.Context) (*podresourcesv1.ListPodResourcesResponse, error) {
	if k.err != nil {
		return nil, k.err
	}
	resp := &podresourcesv1.ListPodResourcesResponse{}
	for name, cs := range k.pods {
		pr := &podresourcesv1.PodResources{Namespace: "default", Name: name}
		for c, ids := range cs {
			cr := &podresourcesv1.ContainerResources{Name: c}
			// Kubelet lists a device once per NUMA node: send duplicates.
			for _, id := range ids {
				cr.Devices = append(cr.Devices,
					&podresourcesv1.ContainerDevices{ResourceName: string(contract.ResourceGPUPercent), DeviceIds: []string{id}},
					&podresourcesv1.ContainerDevices{ResourceName: string(contract.ResourceGPUPercent), DeviceIds: []string{id}})
			}
			cr.Devices = append(cr.Devices, &podresourcesv1.ContainerDevices{ResourceName: "example.com/other", DeviceIds: []string{"x"}})
			pr.Containers = append(pr.Containers, cr)
		}
		resp.PodResources = append(resp.PodResources, pr)
	}
	return resp, nil
}

func pod(name string, intent map[string][2]int) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Annotations: map[string]string{}},
		Spec:       corev1.PodSpec{NodeName: node, SchedulerName: contract.SchedulerName},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
	a := contract.Allocation{Node: node}
	for _, c := range []string{"c0", "c1"} {
		s, ok := intent[c]
		if !ok {
			continue
		}
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{contract.ResourceGPUPercent: *resource.NewQuantity(int64(s[1]), resource.DecimalSI)}}})
		a.Containers = append(a.Containers, contract.ContainerAllocation{Container: c, Kind: device.GPU,
			Devices: []contract.DeviceShare{{ID: fmt.Sprintf("GPU-%d", s[0]), Index: s[0], Units: s[1]}}})
	}
	if len(a.Containers) > 0 {
		v, err := contract.EncodeAllocation(a)
		if err != nil {
			panic(err)
		}
		p.Annotations[contract.AnnotationAllocation] = v
	}
	return p
}

type env struct {
	client   *fake.Clientset
	rec      *reconcile.Reconciler
	events   *record.FakeRecorder
	informer informers.SharedInformerFactory
}

func setup(t *testing.T, k *kubelet, pods ...*corev1.Pod) *env {
	t.Helper()
	var objs []runtime.Object
	for _, p := range pods {
		objs = append(objs, p)
	}
	c := fake.NewClientset(objs...)
	f := informers.NewSharedInformerFactory(c, 0)
	lister := f.Core().V1().Pods().Lister()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	ev := record.NewFakeRecorder(100)
	return &env{client: c, events: ev, informer: f, rec: &reconcile.Reconciler{
		Client: c, Node: node, Pods: lister, PodResources: k, Devices: devices{gpus(8)}, Recorder: ev,
	}}
}

func (e *env) recorded(t *testing.T, name string) (contract.Allocation, bool) {
	t.Helper()
	p, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	v, ok := p.Annotations[contract.AnnotationAllocated]
	if !ok {
		return contract.Allocation{}, false
	}
	a, err := contract.DecodeAllocation(v)
	require.NoError(t, err)
	return a, true
}

// sync waits until the informer has seen every write.
func (e *env) sync(t *testing.T, name string, want bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		p, err := e.rec.Pods.Pods("default").Get(name)
		if err != nil {
			return false
		}
		_, has := p.Annotations[contract.AnnotationAllocated]
		return has == want
	}, 5*time.Second, time.Millisecond)
}

func TestRecordsWhatKubeletGave(t *testing.T) {
	k := &kubelet{pods: map[string]map[string][]string{
		"followed": {"c0": slots(1, 30)},
		"swapped":  {"c0": slots(2, 30)},
		"multi":    {"c0": slots(3, 10), "c1": slots(4, 20)},
		"nothing":  {"c0": nil},
		// Kubelet has served c0 and is about to serve c1: no partial record.
		"half-admitted": {"c0": slots(6, 10), "c1": nil},
	}}
	e := setup(t, k,
		pod("half-admitted", map[string][2]int{"c0": {6, 10}, "c1": {6, 10}}),
		pod("followed", map[string][2]int{"c0": {1, 30}}),
		pod("swapped", map[string][2]int{"c0": {5, 30}}),
		pod("multi", map[string][2]int{"c0": {3, 10}, "c1": {4, 20}}),
		pod("nothing", nil),
	)
	ctx := context.Background()
	res, err := e.rec.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, reconcile.Result{Recorded: 3, Misses: 1}, res)

	a, ok := e.recorded(t, "followed")
	require.True(t, ok)
	require.Equal(t, contract.Allocation{Node: node, Containers: []contract.ContainerAllocation{
		{Container: "c0", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "GPU-1", Index: 1, Units: 30}}}}}, a)
	a, _ = e.recorded(t, "multi")
	require.Len(t, a.Containers, 2, "one allocation per container")
	require.Equal(t, "c0", a.Containers[0].Container)
	require.Equal(t, 20, a.Containers[1].Devices[0].Units)
	a, _ = e.recorded(t, "swapped")
	require.Equal(t, "GPU-2", a.Containers[0].Devices[0].ID)
	_, ok = e.recorded(t, "nothing")
	require.False(t, ok)
	_, ok = e.recorded(t, "half-admitted")
	require.False(t, ok)

	require.Equal(t, "Warning AllocationDiffers container c0 got GPU-2=30% from kubelet but the scheduler chose GPU-5=30%; the node's record wins", <-e.events.Events)

	// The scheduler's accounting converges: the node's record wins.
	p, err := e.client.CoreV1().Pods("default").Get(ctx, "swapped", metav1.GetOptions{})
	require.NoError(t, err)
	got, src, ok, err := contract.AllocationOf(p)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, contract.FromNode, src)
	require.Equal(t, "GPU-2", got.Containers[0].Devices[0].ID)

	// A second pass changes nothing.
	for _, n := range []string{"followed", "swapped", "multi"} {
		e.sync(t, n, true)
	}
	res, err = e.rec.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, reconcile.Result{}, res)
}

// A device kubelet gave the pod may have left the inventory (a GPU fell off
// the bus): kubelet's record is still written, with the index unknown.
func TestRecordsDeviceMissingFromInventory(t *testing.T) {
	k := &kubelet{pods: map[string]map[string][]string{"lost": {"c0": slots(9, 30)}}}
	e := setup(t, k, pod("lost", map[string][2]int{"c0": {9, 30}}))
	res, err := e.rec.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, reconcile.Result{Recorded: 1}, res)
	a, ok := e.recorded(t, "lost")
	require.True(t, ok)
	require.Equal(t, contract.Allocation{Node: node, Containers: []contract.ContainerAllocation{
		{Container: "c0", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "GPU-9", Index: contract.UnknownIndex, Units: 30}}}}}, a)
}

func TestForgedRecords(t *testing.T) {
	forged := func(p *corev1.Pod, v string) *corev1.Pod {
		p.Annotations[contract.AnnotationAllocated] = v
		return p
	}
	lie := `{"v":"v1","node":"node-a","containers":[{"container":"c0","kind":"gpu","devices":[{"id":"GPU-7","index":7,"units":100}]}]}`
	running := forged(pod("running-not-listed", map[string][2]int{"c0": {1, 10}}), lie)
	running.Status.Phase = corev1.PodRunning
	running.Status.StartTime = &metav1.Time{Time: time.Unix(1, 0)}
	k := &kubelet{pods: map[string]map[string][]string{
		"liar":      {"c0": slots(1, 10)},
		"no-device": {"c0": nil},
	}}
	e := setup(t, k,
		forged(pod("liar", map[string][2]int{"c0": {1, 10}}), lie),
		forged(pod("no-device", nil), lie),
		forged(pod("not-admitted", map[string][2]int{"c0": {1, 10}}), lie),
		running,
	)
	res, err := e.rec.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, reconcile.Result{Recorded: 1, Removed: 2}, res)
	a, _ := e.recorded(t, "liar")
	require.Equal(t, "GPU-1", a.Containers[0].Devices[0].ID, "overwritten with kubelet's truth")
	_, ok := e.recorded(t, "no-device")
	require.False(t, ok)
	_, ok = e.recorded(t, "not-admitted")
	require.False(t, ok)
	_, ok = e.recorded(t, "running-not-listed")
	require.True(t, ok, "a started pod kubelet does not list (kubelet restarting) is left alone")
}

func TestPodResourcesUnavailable(t *testing.T) {
	refused := errors.New("connection refused")
	e := setup(t, &kubelet{err: refused})
	_, err := e.rec.RunOnce(context.Background())
	require.EqualError(t, err, "listing pod resources from kubelet: connection refused")
	require.ErrorIs(t, err, refused)
}

func TestRunRecordsAfterTrigger(t *testing.T) {
	k := &kubelet{pods: map[string]map[string][]string{"p": {"c0": slots(1, 30)}}}
	e := setup(t, k, pod("p", map[string][2]int{"c0": {1, 30}}))
	e.rec.Interval, e.rec.Delay = time.Hour, time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.rec.Run(ctx); close(done) }()
	e.rec.Trigger()
	e.rec.Trigger() // coalesced, never blocks
	require.Eventually(t, func() bool { _, ok := e.recorded(t, "p"); return ok }, 5*time.Second, time.Millisecond)
	cancel()
	<-done
}
