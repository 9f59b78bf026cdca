package v1alpha1

import (
	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/apis/config/validation"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/internal/configfile"
)

// Load decodes a YAML or JSON file strictly (unknown and duplicate fields
// are errors), checks apiVersion and kind, defaults, converts and validates
// it.
func Load(data []byte) (*config.AutoscalerConfiguration, error) {
	var v AutoscalerConfiguration
	if err := configfile.Decode(data, "autoscaler configuration", &v, &v.TypeMeta, GroupName+"/"+Version, Kind); err != nil {
		return nil, err
	}
	SetDefaults_AutoscalerConfiguration(&v)
	c := Convert(&v)
	if errs := validation.ValidateAutoscalerConfiguration(c); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return c, nil
}

// Convert turns a defaulted v1alpha1 configuration into the internal one.
func Convert(v *AutoscalerConfiguration) *config.AutoscalerConfiguration {
	c := &config.AutoscalerConfiguration{
		Limits: config.ClusterLimits{MaxNodes: int(*v.Limits.MaxNodes), MaxGPUs: int(*v.Limits.MaxGPUs)},
		ScaleDown: config.ScaleDown{
			Enabled:              *v.ScaleDown.Enabled,
			UtilizationThreshold: float64(*v.ScaleDown.UtilizationThresholdPercent) / 100,
			UnneededTime:         v.ScaleDown.UnneededTime.Duration,
			DelayAfterAdd:        v.ScaleDown.DelayAfterAdd.Duration,
			DelayAfterFailure:    v.ScaleDown.DelayAfterFailure.Duration,
			MaxConcurrent:        int(*v.ScaleDown.MaxConcurrent),
			MaxPodEvictionTime:   v.ScaleDown.MaxPodEvictionTime.Duration,
		},
		Expanders:                append([]string(nil), v.Expanders...),
		BalanceSimilarNodeGroups: *v.BalanceSimilarNodeGroups,
		MaxNodeProvisionTime:     v.MaxNodeProvisionTime.Duration,
		MaxEstimationTime:        v.MaxEstimationTime.Duration,
		ScanInterval:             v.ScanInterval.Duration,
		Backoff: config.Backoff{
			Initial: v.Backoff.Initial.Duration, Max: v.Backoff.Max.Duration, Reset: v.Backoff.Reset.Duration,
		},
	}
	for _, g := range v.NodeGroups {
		c.NodeGroups = append(c.NodeGroups, convertGroup(g))
	}
	if v.BurstGroup != nil {
		b := convertGroup(*v.BurstGroup)
		b.Burst = true
		c.BurstGroup = &b
	}
	for _, s := range v.ScheduledMinimums {
		m := config.ScheduledMinimum{Name: s.Name, Group: s.Group, Schedule: s.Schedule, MinSize: int(s.MinSize)}
		if s.Duration != nil {
			m.Duration = s.Duration.Duration
		}
		c.ScheduledMinimums = append(c.ScheduledMinimums, m)
	}
	return c
}

func convertGroup(g NodeGroup) config.NodeGroup {
	out := config.NodeGroup{
		Name: g.Name, MinSize: int(*g.MinSize), PricePerHour: *g.PricePerHour, Priority: int(*g.Priority),
		ProviderRef: g.ProviderRef, MaxSize: -1,
	}
	if g.MaxSize != nil {
		out.MaxSize = int(*g.MaxSize)
	}
	t := g.Template
	out.Template = config.NodeTemplate{CPU: *t.CPU, Memory: *t.Memory, Pods: *t.Pods, Zone: t.Zone, Labels: t.Labels, Taints: t.Taints}
	if t.Device != nil {
		out.Template.Device = config.DeviceTemplate{Kind: device.Kind(t.Device.Kind), Model: t.Device.Model, Count: int(t.Device.Count), MemoryMiB: t.Device.MemoryMiB,
			Isolation: device.Isolation(t.Device.Isolation), Mode: config.DeviceMode(t.Device.Mode)}
	}
	return out
}
