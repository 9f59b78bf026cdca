package v1alpha1

import (
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
)

// Defaults, as Cluster Autoscaler's where it has one.
const (
	DefaultMaxNodeProvisionTime = 15 * time.Minute
	DefaultMaxEstimationTime    = 10 * time.Second
	DefaultScanInterval         = 10 * time.Second
	DefaultUnneededTime         = 10 * time.Minute
	DefaultDelayAfterAdd        = 10 * time.Minute
	DefaultDelayAfterFailure    = 3 * time.Minute
	DefaultThresholdPercent     = 50
	DefaultMaxConcurrent        = 10
	DefaultMaxPodEvictionTime   = 2 * time.Minute
	DefaultBackoffInitial       = 5 * time.Minute
	DefaultBackoffMax           = 30 * time.Minute
	DefaultBackoffReset         = 3 * time.Hour
	DefaultPods                 = 110
)

// DefaultExpanders is the chain used when none is configured.
var DefaultExpanders = []string{"fragmentation", "least-waste", "price"}

func dur(p **metav1.Duration, d time.Duration) {
	if *p == nil {
		*p = &metav1.Duration{Duration: d}
	}
}

func ptr[T any](p **T, v T) {
	if *p == nil {
		*p = &v
	}
}

// SetDefaults_AutoscalerConfiguration fills every unset field.
func SetDefaults_AutoscalerConfiguration(c *AutoscalerConfiguration) {
	for i := range c.NodeGroups {
		SetDefaults_NodeGroup(&c.NodeGroups[i])
	}
	if c.BurstGroup != nil {
		SetDefaults_NodeGroup(c.BurstGroup)
	}
	if c.Limits == nil {
		c.Limits = &ClusterLimits{}
	}
	ptr(&c.Limits.MaxNodes, 0)
	ptr(&c.Limits.MaxGPUs, 0)
	if c.ScaleDown == nil {
		c.ScaleDown = &ScaleDown{}
	}
	ptr(&c.ScaleDown.Enabled, true)
	ptr(&c.ScaleDown.UtilizationThresholdPercent, DefaultThresholdPercent)
	dur(&c.ScaleDown.UnneededTime, DefaultUnneededTime)
	dur(&c.ScaleDown.DelayAfterAdd, DefaultDelayAfterAdd)
	dur(&c.ScaleDown.DelayAfterFailure, DefaultDelayAfterFailure)
	ptr(&c.ScaleDown.MaxConcurrent, DefaultMaxConcurrent)
	dur(&c.ScaleDown.MaxPodEvictionTime, DefaultMaxPodEvictionTime)
	if len(c.Expanders) == 0 {
		c.Expanders = append([]string(nil), DefaultExpanders...)
	}
	ptr(&c.BalanceSimilarNodeGroups, true)
	dur(&c.MaxNodeProvisionTime, DefaultMaxNodeProvisionTime)
	dur(&c.MaxEstimationTime, DefaultMaxEstimationTime)
	dur(&c.ScanInterval, DefaultScanInterval)
	if c.Backoff == nil {
		c.Backoff = &Backoff{}
	}
	dur(&c.Backoff.Initial, DefaultBackoffInitial)
	dur(&c.Backoff.Max, DefaultBackoffMax)
	dur(&c.Backoff.Reset, DefaultBackoffReset)
}

// SetDefaults_NodeGroup fills a group's unset fields.
func SetDefaults_NodeGroup(g *NodeGroup) {
	ptr(&g.MinSize, 0)
	ptr(&g.PricePerHour, 0)
	ptr(&g.Priority, 0)
	t := &g.Template
	if t.Device != nil && t.Device.Kind == "" {
		t.Device.Kind = "gpu"
	}
	if t.Device != nil && t.Device.Mode == "" {
		t.Device.Mode = string(config.DeviceModeDevicePlugin)
	}
	if t.CPU == nil {
		q := resource.MustParse("32")
		t.CPU = &q
	}
	if t.Memory == nil {
		q := resource.MustParse("256Gi")
		t.Memory = &q
	}
	ptr(&t.Pods, DefaultPods)
}
