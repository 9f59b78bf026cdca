package validation

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// KnownExpanders lists the names the expander factory accepts; the
// validation of the chain uses it.
var KnownExpanders = []string{"fragmentation", "least-waste", "least-nodes", "most-pods", "price", "priority", "random"}

// CronParser parses scheduled minimums' schedules: five standard fields or
// a descriptor such as @daily.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ValidateAutoscalerConfiguration returns every problem in c.
func ValidateAutoscalerConfiguration(c *config.AutoscalerConfiguration) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	if len(c.NodeGroups) == 0 {
		errs = append(errs, field.Required(field.NewPath("nodeGroups"), "at least one node group"))
	}
	for i := range c.NodeGroups {
		errs = append(errs, validateGroup(&c.NodeGroups[i], field.NewPath("nodeGroups").Index(i), names)...)
	}
	if c.BurstGroup != nil {
		errs = append(errs, validateGroup(c.BurstGroup, field.NewPath("burstGroup"), names)...)
		if c.BurstGroup.MinSize != 0 {
			errs = append(errs, field.Invalid(field.NewPath("burstGroup", "minSize"), c.BurstGroup.MinSize, "a burst group has no minimum"))
		}
	}
	for i, s := range c.ScheduledMinimums {
		p := field.NewPath("scheduledMinimums").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		if !names[s.Group] {
			errs = append(errs, field.NotFound(p.Child("group"), s.Group))
		} else {
			for _, g := range c.AllGroups() {
				if g.Name == s.Group && g.MaxSize >= 0 && s.MinSize > g.MaxSize {
					errs = append(errs, field.Invalid(p.Child("minSize"), s.MinSize, fmt.Sprintf("above the group's maxSize %d", g.MaxSize)))
				}
			}
		}
		if _, err := CronParser.Parse(s.Schedule); err != nil {
			errs = append(errs, field.Invalid(p.Child("schedule"), s.Schedule, err.Error()))
		}
		if s.Duration <= 0 {
			errs = append(errs, field.Invalid(p.Child("duration"), s.Duration.String(), "must be positive"))
		}
		if s.MinSize < 0 {
			errs = append(errs, field.Invalid(p.Child("minSize"), s.MinSize, "must not be negative"))
		}
	}
	lp := field.NewPath("limits")
	if c.Limits.MaxNodes < 0 {
		errs = append(errs, field.Invalid(lp.Child("maxNodes"), c.Limits.MaxNodes, "must not be negative"))
	}
	if c.Limits.MaxGPUs < 0 {
		errs = append(errs, field.Invalid(lp.Child("maxGPUs"), c.Limits.MaxGPUs, "must not be negative"))
	}
	sp := field.NewPath("scaleDown")
	if t := c.ScaleDown.UtilizationThreshold; t < 0 || t > 1 {
		errs = append(errs, field.Invalid(sp.Child("utilizationThresholdPercent"), int(t*100), "must be 0..100"))
	}
	errs = append(errs, nonNegative(sp.Child("unneededTime"), c.ScaleDown.UnneededTime)...)
	errs = append(errs, nonNegative(sp.Child("delayAfterAdd"), c.ScaleDown.DelayAfterAdd)...)
	errs = append(errs, nonNegative(sp.Child("delayAfterFailure"), c.ScaleDown.DelayAfterFailure)...)
	if c.ScaleDown.MaxPodEvictionTime <= 0 {
		errs = append(errs, field.Invalid(sp.Child("maxPodEvictionTime"), c.ScaleDown.MaxPodEvictionTime.String(), "must be positive"))
	}
	if c.ScaleDown.MaxConcurrent < 1 {
		errs = append(errs, field.Invalid(sp.Child("maxConcurrent"), c.ScaleDown.MaxConcurrent, "must be at least 1"))
	}
	seen := map[string]bool{}
	for i, e := range c.Expanders {
		p := field.NewPath("expanders").Index(i)
		if seen[e] {
			errs = append(errs, field.Duplicate(p, e))
		}
		seen[e] = true
		if !contains(KnownExpanders, e) {
			errs = append(errs, field.NotSupported(p, e, KnownExpanders))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"maxNodeProvisionTime", c.MaxNodeProvisionTime}, {"maxEstimationTime", c.MaxEstimationTime}, {"scanInterval", c.ScanInterval}} {
		if d.v <= 0 {
			errs = append(errs, field.Invalid(field.NewPath(d.name), d.v.String(), "must be positive"))
		}
	}
	bp := field.NewPath("backoff")
	if c.Backoff.Initial <= 0 {
		errs = append(errs, field.Invalid(bp.Child("initial"), c.Backoff.Initial.String(), "must be positive"))
	}
	if c.Backoff.Max < c.Backoff.Initial {
		errs = append(errs, field.Invalid(bp.Child("max"), c.Backoff.Max.String(), "must be at least initial"))
	}
	if c.Backoff.Reset < c.Backoff.Max {
		errs = append(errs, field.Invalid(bp.Child("reset"), c.Backoff.Reset.String(), "must be at least max"))
	}
	return errs
}

func validateGroup(g *config.NodeGroup, p *field.Path, names map[string]bool) field.ErrorList {
	var errs field.ErrorList
	switch {
	case g.Name == "":
		errs = append(errs, field.Required(p.Child("name"), ""))
	case names[g.Name]:
		errs = append(errs, field.Duplicate(p.Child("name"), g.Name))
	default:
		for _, m := range utilvalidation.IsDNS1123Label(g.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), g.Name, m))
		}
	}
	names[g.Name] = true
	if g.MinSize < 0 {
		errs = append(errs, field.Invalid(p.Child("minSize"), g.MinSize, "must not be negative"))
	}
	switch {
	case g.MaxSize < 0:
		errs = append(errs, field.Required(p.Child("maxSize"), "a node group needs a maximum size"))
	case g.MaxSize < g.MinSize:
		errs = append(errs, field.Invalid(p.Child("maxSize"), g.MaxSize, fmt.Sprintf("below minSize %d", g.MinSize)))
	}
	if g.PricePerHour < 0 {
		errs = append(errs, field.Invalid(p.Child("pricePerHour"), g.PricePerHour, "must not be negative"))
	}
	tp := p.Child("template")
	t := g.Template
	if d := t.Device; d.Count != 0 || d.Model != "" {
		dp := tp.Child("device")
		if !d.Kind.Valid() {
			errs = append(errs, field.NotSupported(dp.Child("kind"), string(d.Kind), []string{string(device.GPU), string(device.NPU)}))
		}
		if !device.ValidModel(d.Model) {
			errs = append(errs, field.Invalid(dp.Child("model"), d.Model, "must be a valid label value (1..63 letters, digits, '.', '_' or '-')"))
		}
		switch {
		case d.Count < 1:
			errs = append(errs, field.Invalid(dp.Child("count"), d.Count, "must be at least 1"))
		case d.Count > share.MaxDevices:
			// As traces are capped: a node cannot hold more devices than
			// one container may ask for.
			errs = append(errs, field.Invalid(dp.Child("count"), d.Count, fmt.Sprintf("must be at most %d", share.MaxDevices)))
		}
		if d.MemoryMiB < 0 {
			errs = append(errs, field.Invalid(dp.Child("memoryMiB"), d.MemoryMiB, "must not be negative"))
		}
		// MIG layouts are not modelled by templates: a template's devices
		// are whole cards.
		if d.Isolation != "" && d.Isolation != device.IsolationNone && d.Isolation != device.IsolationMPS {
			errs = append(errs, field.NotSupported(dp.Child("isolation"), string(d.Isolation), []string{string(device.IsolationNone), string(device.IsolationMPS)}))
		}
		switch d.Mode {
		case config.DeviceModeDevicePlugin, config.DeviceModeDRA:
		case "":
			// Internal configurations built in code leave it unset: the
			// device-plugin mode, as v1alpha1 defaults it.
		default:
			errs = append(errs, field.NotSupported(dp.Child("mode"), string(d.Mode), []string{string(config.DeviceModeDevicePlugin), string(config.DeviceModeDRA)}))
		}
	}
	if t.CPU.Sign() <= 0 {
		errs = append(errs, field.Invalid(tp.Child("cpu"), t.CPU.String(), "must be positive"))
	}
	if t.Memory.Sign() <= 0 {
		errs = append(errs, field.Invalid(tp.Child("memory"), t.Memory.String(), "must be positive"))
	}
	if t.Pods < 1 {
		errs = append(errs, field.Invalid(tp.Child("pods"), t.Pods, "must be at least 1"))
	}
	if t.Zone != "" {
		for _, m := range utilvalidation.IsValidLabelValue(t.Zone) {
			errs = append(errs, field.Invalid(tp.Child("zone"), t.Zone, m))
		}
	}
	errs = append(errs, metavalidation.ValidateLabels(t.Labels, tp.Child("labels"))...)
	for i, taint := range t.Taints {
		ip := tp.Child("taints").Index(i)
		for _, m := range utilvalidation.IsQualifiedName(taint.Key) {
			errs = append(errs, field.Invalid(ip.Child("key"), taint.Key, m))
		}
		switch taint.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, field.NotSupported(ip.Child("effect"), string(taint.Effect), []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}))
		}
	}
	return errs
}

func nonNegative(p *field.Path, d time.Duration) field.ErrorList {
	if d < 0 {
		return field.ErrorList{field.Invalid(p, d.String(), "must not be negative")}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
