package engine

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/trace"
	"github.com/gantry-dev/gantry/simulator/workload"
)

// PodsPerNode is the pods capacity every simulated node gets, as in the
// reference simulator (1001), so that the pod count never limits placement.
const PodsPerNode = 1001

// Namespace is the namespace of every simulated pod.
const Namespace = "trace"

// modelMemoryMiB is a GPU's memory by trace model. Placement never reads it
// (every model counts as 1000 milli-GPU); it only makes the inventory real.
var modelMemoryMiB = map[string]int64{
	"P100": 16384, "T4": 16384, "V100M16": 16384, "V100M32": 32768,
	"A10": 24576, "G2": 16384, "G3": 32768,
}

// GPUMemoryMiB returns the memory recorded for a GPU of model.
func GPUMemoryMiB(model string) int64 {
	if m, ok := modelMemoryMiB[model]; ok {
		return m
	}
	return 16384
}

// Inventory returns the device inventory of a trace node: GPUs of its model
// with stable UUID-like IDs derived from the node name and index.
func Inventory(n trace.Node) device.Inventory {
	inv := device.Inventory{}
	for i := 0; i < n.GPUs; i++ {
		inv.Devices = append(inv.Devices, device.Device{
			ID:        deviceID(n.Name, i),
			Index:     i,
			Kind:      device.GPU,
			Vendor:    "nvidia",
			Model:     n.Model,
			MemoryMiB: GPUMemoryMiB(n.Model),
			Health:    device.Healthy,
			NUMANode:  device.NoNUMA,
		})
	}
	return inv
}

// deviceID is a deterministic UUID-shaped ID: GPU-<fnv of name>-<index>.
func deviceID(node string, i int) string {
	var h uint64 = 14695981039346656037
	for j := 0; j < len(node); j++ {
		h ^= uint64(node[j])
		h *= 1099511628211
	}
	return fmt.Sprintf("GPU-%08x-%04x-%04x-%04x-%012x", uint32(h>>32), uint16(h>>16), uint16(h), i, uint64(i)*0x9E3779B97F4A7C15&0xffffffffffff)
}

// NodeObject turns a trace node into a Ready Kubernetes Node with the trace's
// CPU and memory allocatable, PodsPerNode pods, and a Gantry inventory.
func NodeObject(n trace.Node) (*corev1.Node, error) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        n.Name,
		Labels:      map[string]string{corev1.LabelHostname: n.Name},
		Annotations: map[string]string{},
	}}
	node.Status.Allocatable = corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(n.CPUMilli, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(n.MemoryMiB<<20, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(PodsPerNode, resource.DecimalSI),
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	node.Status.Capacity = node.Status.Allocatable.DeepCopy()
	if n.GPUs > 0 {
		if err := contract.Publish(node, Inventory(n)); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return node, nil
}

// RequestPercent is the gantry.dev/gpu-percent a trace pod asks for in total:
// 100 per whole GPU, or its share of one GPU in percent. It differs from
// trace.Pod.GPUPercent, which is the share of each GPU.
func RequestPercent(p trace.Pod) int64 {
	if p.NumGPU == 0 {
		return 0
	}
	if p.GPUMilli >= trace.MilliPerGPU {
		return int64(p.NumGPU) * 100
	}
	return p.GPUMilli / trace.MilliPerPercent
}

// PodObject turns a trace pod into a pending Pod for gantry-scheduler: CPU
// and memory requests, gantry.dev/gpu-percent, and the model constraint.
func PodObject(p trace.Pod) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: p.Name, Namespace: Namespace, UID: types.UID(Namespace + "/" + p.Name),
	}}
	pod.Spec.SchedulerName = contract.SchedulerName
	c := corev1.Container{Name: "main", Image: "registry.k8s.io/pause:3.10"}
	c.Resources.Requests = corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(p.CPUMilli, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(p.MemoryMiB<<20, resource.BinarySI),
	}
	if pct := RequestPercent(p); pct > 0 {
		// A limit only: the API server would copy it into requests, where
		// NodeResourcesFit skips it (ignoredResourceGroups: gantry.dev) and
		// GantryDeviceShare reads the limit. Leaving the copy out changes no
		// decision and spares the in-tree filter a regexp validation of the
		// resource name on every node of every cycle (half of a run's time).
		// FullPodObject adds it.
		c.Resources.Limits = corev1.ResourceList{contract.ResourceGPUPercent: *resource.NewQuantity(pct, resource.DecimalSI)}
		if len(p.GPUSpec) > 0 {
			pod.Annotations = map[string]string{contract.AnnotationGPUModels: strings.Join(p.GPUSpec, "|")}
		}
	}
	pod.Spec.Containers = []corev1.Container{c}
	return pod
}

// FullPodObject is PodObject as the API server would store it, with the
// gantry.dev/gpu-percent limit copied into requests.
func FullPodObject(p trace.Pod) *corev1.Pod {
	pod := PodObject(p)
	c := &pod.Spec.Containers[0]
	if q, ok := c.Resources.Limits[contract.ResourceGPUPercent]; ok {
		c.Resources.Requests[contract.ResourceGPUPercent] = q
	}
	return pod
}

// WorkloadOf converts the FGD target workload into the policy's shapes.
func WorkloadOf(d workload.Distribution) policy.Workload {
	w := make(policy.Workload, 0, len(d.Shapes))
	for _, s := range d.Shapes {
		ps := policy.Shape{CPUMilli: s.CPUMilli, Weight: s.Weight}
		if s.NumGPU > 0 {
			ps.Kind = device.GPU
			ps.Count = s.NumGPU
			ps.Units = int(s.GPUMilli / trace.MilliPerPercent)
			if len(s.Models) > 0 {
				ps.Models = append([]string(nil), s.Models...)
			}
		}
		w = append(w, ps)
	}
	return w
}
