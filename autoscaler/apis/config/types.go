package config

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-dev/gantry/core/device"
)

// AutoscalerConfiguration is the whole configuration of gantry-autoscaler.
type AutoscalerConfiguration struct {
	// NodeGroups are the groups the autoscaler may resize.
	NodeGroups []NodeGroup
	// BurstGroup is an optional virtual group (ECI-style): nodes appear
	// without boot delay at a higher price. It is chosen like any group,
	// so the price expander keeps it for when the others cannot help.
	BurstGroup *NodeGroup
	// ScheduledMinimums raise groups' minimum sizes during cron windows.
	ScheduledMinimums []ScheduledMinimum
	Limits            ClusterLimits
	ScaleDown         ScaleDown
	// Expanders is the expander chain, in order; random breaks ties.
	Expanders []string
	// BalanceSimilarNodeGroups spreads a scale-up over groups that differ
	// only in zone.
	BalanceSimilarNodeGroups bool
	// MaxNodeProvisionTime is how long a requested node may take to become
	// ready (inventory published) before the request counts as failed.
	MaxNodeProvisionTime time.Duration
	// MaxEstimationTime caps one group's estimation.
	MaxEstimationTime time.Duration
	Backoff           Backoff
	// ScanInterval is how often the command runs the loop.
	ScanInterval time.Duration
}

// NodeGroup is a set of identical nodes the provider can add and remove.
type NodeGroup struct {
	Name     string
	Template NodeTemplate
	MinSize  int
	MaxSize  int
	// PricePerHour is the price of one node, in any currency.
	PricePerHour float64
	// Priority is for the priority expander: higher wins.
	Priority int
	// ProviderRef names the provider's object behind the group, e.g. a
	// MachineDeployment "namespace/name" for clusterapi.
	ProviderRef string
	// Burst marks the virtual group (set for BurstGroup only).
	Burst bool
}

// NodeTemplate describes a node of a group before any exists, so that the
// autoscaler can scale from zero: the devices are declared, never learned
// from a node whose inventory is not yet published.
type NodeTemplate struct {
	Device DeviceTemplate
	CPU    resource.Quantity
	Memory resource.Quantity
	Pods   int64
	Zone   string
	Labels map[string]string
	Taints []corev1.Taint
}

// DeviceTemplate is the accelerators of a template node; Count 0 for none.
type DeviceTemplate struct {
	Kind      device.Kind
	Model     string
	Count     int
	MemoryMiB int64
	// Isolation is the level the group's devices publish; "" is none.
	Isolation device.Isolation
	// Mode is how the group's node agents publish the cards.
	Mode DeviceMode
}

// DeviceMode is how a node agent publishes its cards (DESIGN §3): one mode
// per node.
type DeviceMode string

const (
	// DeviceModeDevicePlugin: the inventory annotation and the
	// gantry.dev/<kind>-percent extended resources; pods ask the
	// resources, and their allocations are recorded on the pods.
	DeviceModeDevicePlugin DeviceMode = "DevicePlugin"
	// DeviceModeDRA: the DRA driver gpu.gantry.dev publishes one
	// ResourceSlice with a device per card; pods hold shares through
	// ResourceClaims. The template node then carries no Gantry
	// annotation, label or resource, and the slice its agent would
	// publish is built from the declared cards (core/dra.TemplateSlice).
	DeviceModeDRA DeviceMode = "DRA"
)

// DRA reports whether the template's cards are published in DRA mode.
func (d DeviceTemplate) DRA() bool { return d.Count > 0 && d.Mode == DeviceModeDRA }

// ScheduledMinimum raises a group's minimum to MinSize for Duration after
// each time Schedule fires (ACK's scheduled scaling).
type ScheduledMinimum struct {
	Name     string
	Group    string
	Schedule string
	Duration time.Duration
	MinSize  int
}

// ClusterLimits cap the whole cluster; 0 means no limit.
type ClusterLimits struct {
	MaxNodes int
	MaxGPUs  int
}

// ScaleDown configures node removal.
type ScaleDown struct {
	Enabled bool
	// UtilizationThreshold is the fraction (0..1) of device share units
	// (host CPU for nodes without devices) below which a node is unneeded.
	UtilizationThreshold float64
	// UnneededTime is how long a node must stay unneeded to be removed.
	UnneededTime time.Duration
	// DelayAfterAdd holds scale-down back after a scale-up.
	DelayAfterAdd time.Duration
	// DelayAfterFailure holds scale-down back after a failed removal.
	DelayAfterFailure time.Duration
	// MaxConcurrent caps the nodes removed in one loop.
	MaxConcurrent int
	// MaxPodEvictionTime bounds a node's drain: evictions refused by a
	// PodDisruptionBudget are retried, and the evicted pods must be gone,
	// within it; otherwise the node is kept (unmarked) and an event says
	// why.
	MaxPodEvictionTime time.Duration
}

// Backoff is the per-group exponential backoff after failed scale-ups.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	// Reset forgets a group's failures this long after the last one.
	Reset time.Duration
}

// DRA reports whether any group publishes its cards in DRA mode: the
// autoscaler then reads ResourceSlices, ResourceClaims and DeviceClasses
// and simulates claims with GantryDRA.
func (c *AutoscalerConfiguration) DRA() bool {
	for _, g := range c.AllGroups() {
		if g.Template.Device.DRA() {
			return true
		}
	}
	return false
}

// AllGroups returns the node groups with the burst group last.
func (c *AutoscalerConfiguration) AllGroups() []NodeGroup {
	out := append([]NodeGroup(nil), c.NodeGroups...)
	if c.BurstGroup != nil {
		out = append(out, *c.BurstGroup)
	}
	return out
}
