package coretest

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/state"
)

// NodeWrapper builds a Node with a Gantry inventory.
type NodeWrapper struct {
	node corev1.Node
	inv  device.Inventory
	raw  *string
}

// MakeNode starts a node with 32 CPUs and 256 GiB of memory, Ready.
func MakeNode(name string) *NodeWrapper {
	w := &NodeWrapper{node: corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}}}}
	w.node.Status.Allocatable = corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	w.node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	return w
}

// Zone sets the topology zone label.
func (w *NodeWrapper) Zone(z string) *NodeWrapper {
	w.node.Labels[corev1.LabelTopologyZone] = z
	return w
}

// Label sets a label.
func (w *NodeWrapper) Label(k, v string) *NodeWrapper {
	w.node.Labels[k] = v
	return w
}

// CPU sets allocatable CPU in milli-cores and memory in MiB.
func (w *NodeWrapper) CPU(milli, memMiB int64) *NodeWrapper {
	w.node.Status.Allocatable[corev1.ResourceCPU] = *resource.NewMilliQuantity(milli, resource.DecimalSI)
	w.node.Status.Allocatable[corev1.ResourceMemory] = *resource.NewQuantity(memMiB<<20, resource.BinarySI)
	return w
}

// Devices adds count devices of kind and model with memMiB each, healthy,
// NUMA node index/(count/2), all in one link group.
func (w *NodeWrapper) Devices(kind device.Kind, model string, count int, memMiB int64) *NodeWrapper {
	for i := 0; i < count; i++ {
		idx := len(w.inv.Devices)
		numa := 0
		if count > 1 {
			numa = i / ((count + 1) / 2)
		}
		w.inv.Devices = append(w.inv.Devices, device.Device{
			ID:        fmt.Sprintf("%s-%s-%d", kind, w.node.Name, idx),
			Index:     idx,
			Kind:      kind,
			Vendor:    "test",
			Model:     model,
			MemoryMiB: memMiB,
			Health:    device.Healthy,
			NUMANode:  numa,
			LinkGroup: w.node.Name + "-link",
		})
	}
	return w
}

// GPUs adds count GPUs of model with memMiB each.
func (w *NodeWrapper) GPUs(model string, count int, memMiB int64) *NodeWrapper {
	return w.Devices(device.GPU, model, count, memMiB)
}

// NPUs adds count NPUs of model with memMiB each.
func (w *NodeWrapper) NPUs(model string, count int, memMiB int64) *NodeWrapper {
	return w.Devices(device.NPU, model, count, memMiB)
}

// Topology sets the NUMA node and link group of device index i.
func (w *NodeWrapper) Topology(i, numa int, linkGroup string) *NodeWrapper {
	w.inv.Devices[i].NUMANode, w.inv.Devices[i].LinkGroup = numa, linkGroup
	return w
}

// Isolation sets the isolation of device i (IsolationMIG also fills in MIG
// details naming a parent "<id>-parent" and profile "1g.10gb").
func (w *NodeWrapper) Isolation(i int, level device.Isolation) *NodeWrapper {
	d := &w.inv.Devices[i]
	d.Isolation = level
	if level == device.IsolationMIG {
		d.MIG = &device.MIG{Parent: d.ID + "-parent", Profile: "1g.10gb"}
	}
	return w
}

// Unhealthy marks device index i unhealthy.
func (w *NodeWrapper) Unhealthy(i int) *NodeWrapper {
	w.inv.Devices[i].Health = device.Unhealthy
	return w
}

// RawInventory sets the inventory annotation verbatim (for malformed cases).
func (w *NodeWrapper) RawInventory(v string) *NodeWrapper {
	w.raw = &v
	return w
}

// Inventory returns the devices added so far.
func (w *NodeWrapper) Inventory() device.Inventory { return w.inv }

// Obj returns the Node with inventory annotation, labels and allocatable.
func (w *NodeWrapper) Obj() *corev1.Node {
	n := w.node.DeepCopy()
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	switch {
	case w.raw != nil:
		n.Annotations[contract.AnnotationInventory] = *w.raw
	case len(w.inv.Devices) > 0:
		if err := contract.Publish(n, w.inv); err != nil {
			panic(err)
		}
	}
	return n
}

// State returns a NodeState for the node with nothing allocated.
func (w *NodeWrapper) State() *state.NodeState {
	return state.New(w.node.Name, w.node.Labels[corev1.LabelTopologyZone], w.inv)
}

// PodWrapper builds a Pod.
type PodWrapper struct{ pod corev1.Pod }

// MakePod starts a pod in namespace "default" with one container "main"
// scheduled by gantry-scheduler.
func MakePod(name string) *PodWrapper {
	w := &PodWrapper{pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)}}}
	w.pod.Spec.SchedulerName = contract.SchedulerName
	w.pod.Spec.Containers = []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}}
	return w
}

// Container adds a container.
func (w *PodWrapper) Container(name string) *PodWrapper {
	w.pod.Spec.Containers = append(w.pod.Spec.Containers, corev1.Container{Name: name, Image: "registry.k8s.io/pause:3.10"})
	return w
}

func (w *PodWrapper) last() *corev1.Container {
	return &w.pod.Spec.Containers[len(w.pod.Spec.Containers)-1]
}

// InitContainer adds an init container; it becomes the last container
// only for InitLimit.
func (w *PodWrapper) InitContainer(name string) *PodWrapper {
	w.pod.Spec.InitContainers = append(w.pod.Spec.InitContainers, corev1.Container{Name: name, Image: "registry.k8s.io/pause:3.10"})
	return w
}

// InitLimit sets a limit and the equal request on the last init container.
func (w *PodWrapper) InitLimit(name corev1.ResourceName, q string) *PodWrapper {
	setLimit(&w.pod.Spec.InitContainers[len(w.pod.Spec.InitContainers)-1], name, q)
	return w
}

// Limit sets a limit and the equal request on the last container, as the
// API server defaults an extended resource's request.
func (w *PodWrapper) Limit(name corev1.ResourceName, q string) *PodWrapper {
	setLimit(w.last(), name, q)
	return w
}

func setLimit(c *corev1.Container, name corev1.ResourceName, q string) {
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	c.Resources.Limits[name] = resource.MustParse(q)
	c.Resources.Requests[name] = resource.MustParse(q)
}

// Request sets only a request on the last container (for malformed cases:
// a request without a limit, or one that differs from the limit).
func (w *PodWrapper) Request(name corev1.ResourceName, q string) *PodWrapper {
	c := w.last()
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	c.Resources.Requests[name] = resource.MustParse(q)
	return w
}

// GPUPercent asks for p percent of a GPU (or p/100 GPUs) on the last container.
func (w *PodWrapper) GPUPercent(p int64) *PodWrapper {
	return w.Limit(contract.ResourceGPUPercent, fmt.Sprint(p))
}

// NPUPercent asks for p percent of an NPU on the last container.
func (w *PodWrapper) NPUPercent(p int64) *PodWrapper {
	return w.Limit(contract.ResourceNPUPercent, fmt.Sprint(p))
}

// Requests sets CPU (milli) and memory (MiB) requests on the last container.
func (w *PodWrapper) Requests(cpuMilli, memMiB int64) *PodWrapper {
	c := w.last()
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	c.Resources.Requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(cpuMilli, resource.DecimalSI)
	c.Resources.Requests[corev1.ResourceMemory] = *resource.NewQuantity(memMiB<<20, resource.BinarySI)
	return w
}

// Annotation sets an annotation.
func (w *PodWrapper) Annotation(k, v string) *PodWrapper {
	if w.pod.Annotations == nil {
		w.pod.Annotations = map[string]string{}
	}
	w.pod.Annotations[k] = v
	return w
}

// Label sets a label.
func (w *PodWrapper) Label(k, v string) *PodWrapper {
	if w.pod.Labels == nil {
		w.pod.Labels = map[string]string{}
	}
	w.pod.Labels[k] = v
	return w
}

// Models restricts the GPU models.
func (w *PodWrapper) Models(v string) *PodWrapper {
	return w.Annotation(contract.AnnotationGPUModels, v)
}

// Workload names the workload the pod is a replica of.
func (w *PodWrapper) Workload(name string) *PodWrapper { return w.Label(contract.LabelWorkload, name) }

// Owner adds an owner reference; controller marks it the controller.
func (w *PodWrapper) Owner(kind, name string, controller bool) *PodWrapper {
	w.pod.OwnerReferences = append(w.pod.OwnerReferences, metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: kind, Name: name, UID: types.UID("uid-" + name), Controller: &controller,
	})
	return w
}

// Node binds the pod to a node.
func (w *PodWrapper) Node(name string) *PodWrapper {
	w.pod.Spec.NodeName = name
	return w
}

// Obj returns the Pod.
func (w *PodWrapper) Obj() *corev1.Pod { return w.pod.DeepCopy() }

// Allocation returns an allocation on n in which container "main" takes
// units of each device at the given indices into n.Devices.
func Allocation(n *state.NodeState, units int, idx ...int) contract.Allocation {
	ca := contract.ContainerAllocation{Container: "main"}
	for _, i := range idx {
		d := n.Devices[i]
		ca.Kind = d.Kind
		ca.Devices = append(ca.Devices, contract.DeviceShare{ID: d.ID, Index: d.Index, Units: units})
	}
	return contract.Allocation{Node: n.Name, Containers: []contract.ContainerAllocation{ca}}
}

// Hold records that pod holds units of each device at the given indices
// into n.Devices, and returns n. It panics when the holding does not fit.
func Hold(n *state.NodeState, pod string, units int, idx ...int) *state.NodeState {
	return HoldAs(n, pod, "", units, idx...)
}

// HoldAs is Hold for a replica of workload.
func HoldAs(n *state.NodeState, pod, workload string, units int, idx ...int) *state.NodeState {
	if err := n.Assign(pod, state.Holding{Allocation: Allocation(n, units, idx...), Workload: workload}); err != nil {
		panic(err)
	}
	return n
}
