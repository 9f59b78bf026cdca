package contract

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/device"
)

// Domain prefixes every Gantry name.
const Domain = "gantry.dev"

// SchedulerName is the profile pods name in spec.schedulerName.
const SchedulerName = "gantry-scheduler"

// Extended resources. A value of 1..100 is a share of one device in percent;
// above 100 it must be a whole multiple of 100 and means that many devices.
const (
	ResourceGPUPercent corev1.ResourceName = Domain + "/gpu-percent"
	ResourceNPUPercent corev1.ResourceName = Domain + "/npu-percent"
)

// Node labels, set by the device plugin so that node affinity and node-group
// templates work with stock tools.
const (
	LabelGPUModel = Domain + "/gpu-model"
	LabelGPUCount = Domain + "/gpu-count"
	LabelNPUModel = Domain + "/npu-model"
	LabelNPUCount = Domain + "/npu-count"
	// LabelAccelerator is "gpu", "npu" or "gpu-npu".
	LabelAccelerator = Domain + "/accelerator"
	// MixedModel is the model label of a node whose devices of one kind are
	// not all the same model.
	MixedModel = "mixed"
)

// LabelAgentMode is the operator's choice of a node's agent mode: a node
// labelled AgentModeDRA runs the node agent as the DRA driver, the shipped
// device-plugin DaemonSet keeps off it and the DRA-mode one runs only there,
// so a node's cards are offered one way.
const (
	LabelAgentMode = Domain + "/agent-mode"
	AgentModeDRA   = "dra"
)

// Node annotations.
const (
	// AnnotationInventory holds the node's device inventory (see EncodeInventory).
	AnnotationInventory = Domain + "/inventory"
)

// Pod annotations.
const (
	// AnnotationGPUModels restricts a pod to GPU models, joined by "|",
	// e.g. "V100M16|V100M32" (the Alibaba trace's gpu_spec).
	AnnotationGPUModels = Domain + "/gpu-models"
	// AnnotationNPUModels is the same for NPUs.
	AnnotationNPUModels = Domain + "/npu-models"
	// AnnotationAllocation is the scheduler's choice of devices, written in
	// PreBind (see EncodeAllocation).
	AnnotationAllocation = Domain + "/allocation"
	// AnnotationAllocated is what kubelet really gave each container, written
	// by the node agent from the PodResources API. It wins over
	// AnnotationAllocation wherever both exist.
	AnnotationAllocated = Domain + "/allocated"
	// AnnotationAllowSharedDevice set to "true" lets replicas of one workload
	// share a device.
	AnnotationAllowSharedDevice = Domain + "/allow-shared-device"
	// AnnotationIsolation requires the isolation level ("none", "mps" or
	// "mig") of every device the pod is given (see device.Isolation).
	AnnotationIsolation = Domain + "/isolation"
	// LabelWorkload names the workload a pod is a replica of, for zone
	// spread. Without it the pod's controller owner reference is used.
	LabelWorkload = Domain + "/workload"
)

// ResourceFor returns the extended resource of a device kind.
func ResourceFor(k device.Kind) corev1.ResourceName {
	if k == device.NPU {
		return ResourceNPUPercent
	}
	return ResourceGPUPercent
}

// ModelsAnnotationFor returns the pod annotation that constrains models of k.
func ModelsAnnotationFor(k device.Kind) string {
	if k == device.NPU {
		return AnnotationNPUModels
	}
	return AnnotationGPUModels
}

// ModelLabelFor returns the node label that carries the model of k.
func ModelLabelFor(k device.Kind) string {
	if k == device.NPU {
		return LabelNPUModel
	}
	return LabelGPUModel
}

// CountLabelFor returns the node label that carries the device count of k.
func CountLabelFor(k device.Kind) string {
	if k == device.NPU {
		return LabelNPUCount
	}
	return LabelGPUCount
}
