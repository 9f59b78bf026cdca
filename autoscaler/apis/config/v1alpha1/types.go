package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GroupName and Version name this API; Kind is its only kind.
const (
	GroupName = "gantry.dev"
	Version   = "v1alpha1"
	Kind      = "AutoscalerConfiguration"
)

// AutoscalerConfiguration configures gantry-autoscaler.
type AutoscalerConfiguration struct {
	metav1.TypeMeta `json:",inline"`

	NodeGroups        []NodeGroup        `json:"nodeGroups"`
	BurstGroup        *NodeGroup         `json:"burstGroup,omitempty"`
	ScheduledMinimums []ScheduledMinimum `json:"scheduledMinimums,omitempty"`
	Limits            *ClusterLimits     `json:"limits,omitempty"`
	ScaleDown         *ScaleDown         `json:"scaleDown,omitempty"`
	// Expanders defaults to [fragmentation, least-waste, price].
	Expanders                []string         `json:"expanders,omitempty"`
	BalanceSimilarNodeGroups *bool            `json:"balanceSimilarNodeGroups,omitempty"`
	MaxNodeProvisionTime     *metav1.Duration `json:"maxNodeProvisionTime,omitempty"`
	MaxEstimationTime        *metav1.Duration `json:"maxEstimationTime,omitempty"`
	Backoff                  *Backoff         `json:"backoff,omitempty"`
	ScanInterval             *metav1.Duration `json:"scanInterval,omitempty"`
}

// NodeGroup is a resizable group of identical nodes.
type NodeGroup struct {
	Name         string       `json:"name"`
	Template     NodeTemplate `json:"template"`
	MinSize      *int32       `json:"minSize,omitempty"`
	MaxSize      *int32       `json:"maxSize,omitempty"`
	PricePerHour *float64     `json:"pricePerHour,omitempty"`
	Priority     *int32       `json:"priority,omitempty"`
	ProviderRef  string       `json:"providerRef,omitempty"`
}

// NodeTemplate describes a node of the group.
type NodeTemplate struct {
	Device *DeviceTemplate    `json:"device,omitempty"`
	CPU    *resource.Quantity `json:"cpu,omitempty"`
	Memory *resource.Quantity `json:"memory,omitempty"`
	Pods   *int64             `json:"pods,omitempty"`
	Zone   string             `json:"zone,omitempty"`
	Labels map[string]string  `json:"labels,omitempty"`
	Taints []corev1.Taint     `json:"taints,omitempty"`
}

// DeviceTemplate is the accelerators of a node.
type DeviceTemplate struct {
	Kind      string `json:"kind,omitempty"`
	Model     string `json:"model"`
	Count     int32  `json:"count"`
	MemoryMiB int64  `json:"memoryMiB,omitempty"`
	// Isolation is what the group's nodes enforce between shares: "none"
	// (default) or "mps" (their agents run CUDA MPS), so that pods that
	// require gantry.dev/isolation trigger the right group.
	Isolation string `json:"isolation,omitempty"`
	// Mode is how the group's node agents publish the cards:
	// "DevicePlugin" (default: the inventory annotation and
	// gantry.dev/<kind>-percent resources) or "DRA" (the DRA driver
	// gpu.gantry.dev's ResourceSlice; pods ask shares by ResourceClaim).
	Mode string `json:"mode,omitempty"`
}

// ScheduledMinimum raises a group's minimum during a cron window.
type ScheduledMinimum struct {
	Name     string           `json:"name"`
	Group    string           `json:"group"`
	Schedule string           `json:"schedule"`
	Duration *metav1.Duration `json:"duration"`
	MinSize  int32            `json:"minSize"`
}

// ClusterLimits cap the cluster; 0 or absent means no limit.
type ClusterLimits struct {
	MaxNodes *int32 `json:"maxNodes,omitempty"`
	MaxGPUs  *int32 `json:"maxGPUs,omitempty"`
}

// ScaleDown configures node removal.
type ScaleDown struct {
	Enabled *bool `json:"enabled,omitempty"`
	// UtilizationThresholdPercent of device share units; default 50.
	UtilizationThresholdPercent *int32           `json:"utilizationThresholdPercent,omitempty"`
	UnneededTime                *metav1.Duration `json:"unneededTime,omitempty"`
	DelayAfterAdd               *metav1.Duration `json:"delayAfterAdd,omitempty"`
	DelayAfterFailure           *metav1.Duration `json:"delayAfterFailure,omitempty"`
	MaxConcurrent               *int32           `json:"maxConcurrent,omitempty"`
	// MaxPodEvictionTime bounds a node's drain (evictions retried while a
	// PodDisruptionBudget refuses them, then the wait for the pods to
	// terminate); default 2m, as Cluster Autoscaler's.
	MaxPodEvictionTime *metav1.Duration `json:"maxPodEvictionTime,omitempty"`
}

// Backoff is the per-group backoff after failed scale-ups.
type Backoff struct {
	Initial *metav1.Duration `json:"initial,omitempty"`
	Max     *metav1.Duration `json:"max,omitempty"`
	Reset   *metav1.Duration `json:"reset,omitempty"`
}
