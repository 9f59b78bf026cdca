package server_test

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
)

const node = "node-a"

func gpuID(i int) string { return fmt.Sprintf("GPU-%d", i) }

// gpus returns an inventory of n 80 GiB GPUs, NUMA 0 and 1, one link group
// per four.
func gpus(n int) device.Inventory {
	var inv device.Inventory
	for i := 0; i < n; i++ {
		inv.Devices = append(inv.Devices, device.Device{
			ID: gpuID(i), Index: i, Kind: device.GPU, Vendor: "nvidia", Model: "A100-SXM4-80GB",
			MemoryMiB: 80 * 1024, Health: device.Healthy, NUMANode: i / 4, LinkGroup: fmt.Sprintf("nvlink-%d", i/4*4),
		})
	}
	return inv
}

// devices is a settable DeviceSource.
type devices struct {
	mu      sync.Mutex
	inv     device.Inventory
	rt      discovery.Runtime
	changed chan struct{}
}

func newDevices(inv device.Inventory) *devices {
	return &devices{inv: inv, rt: discovery.Runtime{}, changed: make(chan struct{})}
}

func (d *devices) Snapshot() (device.Inventory, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return device.Inventory{Devices: append([]device.Device(nil), d.inv.Devices...)}, d.changed
}

func (d *devices) Runtime() discovery.Runtime { return d.rt }

func (d *devices) setHealth(i int, h device.Health) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inv.Devices[i].Health = h
	close(d.changed)
	d.changed = make(chan struct{})
}

// slots returns n slot IDs of device i starting at slot from.
func slots(i, from, n int) []string {
	var out []string
	for s := from; s < from+n; s++ {
		out = append(out, contract.SlotID(gpuID(i), s))
	}
	return out
}

// allSlots returns every slot of every device of inv.
func allSlots(inv device.Inventory) []string {
	var out []string
	for _, d := range inv.Devices {
		for s := 0; s < device.UnitsPerDevice; s++ {
			out = append(out, contract.SlotID(d.ID, s))
		}
	}
	return out
}

// podWith returns a gantry-scheduled pod on node whose containers hold the
// given (device index, units) shares, created at second created.
func podWith(name string, created int64, containers ...[][2]int) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(time.Unix(created, 0)), Annotations: map[string]string{}},
		Spec: corev1.PodSpec{NodeName: node, SchedulerName: contract.SchedulerName},
	}
	a := contract.Allocation{Node: node}
	for ci, shares := range containers {
		c := corev1.Container{Name: fmt.Sprintf("c%d", ci)}
		total := 0
		ca := contract.ContainerAllocation{Container: c.Name, Kind: device.GPU}
		for _, s := range shares {
			ca.Devices = append(ca.Devices, contract.DeviceShare{ID: gpuID(s[0]), Index: s[0], Units: s[1]})
			total += s[1]
		}
		c.Resources.Limits = corev1.ResourceList{contract.ResourceGPUPercent: *resource.NewQuantity(int64(total), resource.DecimalSI)}
		pod.Spec.Containers = append(pod.Spec.Containers, c)
		a.Containers = append(a.Containers, ca)
	}
	v, err := contract.EncodeAllocation(a)
	if err != nil {
		panic(err)
	}
	pod.Annotations[contract.AnnotationAllocation] = v
	return pod
}

func lister(pods ...*corev1.Pod) corelisters.PodLister {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, p := range pods {
		if err := idx.Add(p); err != nil {
			panic(err)
		}
	}
	return corelisters.NewPodLister(idx)
}
