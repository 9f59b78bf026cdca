// Package validation checks the Gantry scheduler plugin's arguments and
// reports every problem with its field path.
package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/scheduler/apis/config"
)

// ValidateDeviceShareArgs returns every problem with args, under path.
func ValidateDeviceShareArgs(path *field.Path, args *config.DeviceShareArgs) field.ErrorList {
	var errs field.ErrorList
	if _, err := policy.New(args.Policy, policy.Options{Workload: placeholder}); err != nil {
		var known []string
		for _, t := range policy.Types() {
			known = append(known, string(t))
		}
		errs = append(errs, field.NotSupported(path.Child("policy"), string(args.Policy), known))
	}
	if args.ZoneSpreadWeight < 0 || args.ZoneSpreadWeight > 100 {
		errs = append(errs, field.Invalid(path.Child("zoneSpreadWeight"), args.ZoneSpreadWeight, "must be between 0 and 100"))
	}
	if args.WorkloadCoveragePercent < 1 || args.WorkloadCoveragePercent > 100 {
		errs = append(errs, field.Invalid(path.Child("workloadCoveragePercent"), args.WorkloadCoveragePercent, "must be between 1 and 100"))
	}
	if args.WriteAllocation != config.WriteInPreBind && args.WriteAllocation != config.WriteInBind {
		errs = append(errs, field.NotSupported(path.Child("writeAllocation"), args.WriteAllocation, []string{config.WriteInPreBind, config.WriteInBind}))
	}
	if len(args.Workload) > 0 && !policy.NeedsWorkload(args.Policy) {
		errs = append(errs, field.Forbidden(path.Child("workload"), fmt.Sprintf("policy %s does not use a workload distribution", args.Policy)))
	}
	for i, s := range args.Workload {
		p := path.Child("workload").Index(i)
		switch {
		case s.Kind != "" && !s.Kind.Valid():
			errs = append(errs, field.NotSupported(p.Child("kind"), string(s.Kind), []string{string(device.GPU), string(device.NPU)}))
		case s.Count < 0:
			errs = append(errs, field.Invalid(p.Child("count"), s.Count, "must not be negative"))
		case s.Count > 0 && (s.Units < 1 || s.Units > device.UnitsPerDevice):
			errs = append(errs, field.Invalid(p.Child("percent"), s.Units, "must be between 1 and 100"))
		case s.Count > 1 && s.Units != device.UnitsPerDevice:
			errs = append(errs, field.Invalid(p.Child("percent"), s.Units, "must be 100 when count is above 1 (several devices are whole)"))
		case s.CPUMilli < 0:
			errs = append(errs, field.Invalid(p.Child("cpuMilli"), s.CPUMilli, "must not be negative"))
		case !(s.Weight > 0):
			errs = append(errs, field.Invalid(p.Child("weight"), s.Weight, "must be positive"))
		}
	}
	return errs
}

// placeholder lets policies that need a workload be constructed for the
// type check alone.
var placeholder = policy.Workload{{Count: 1, Units: 100, Weight: 1}}
