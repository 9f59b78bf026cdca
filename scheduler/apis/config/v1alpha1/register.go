package v1alpha1

import (
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/scheduler/apis/config"
)

// AddToScheme registers the versioned types, their defaults and their
// conversions to and from the internal types.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &DeviceShareArgs{})
	s.AddTypeDefaultingFunc(&DeviceShareArgs{}, func(obj interface{}) { SetDefaults_DeviceShareArgs(obj.(*DeviceShareArgs)) })
	if err := s.AddConversionFunc((*DeviceShareArgs)(nil), (*config.DeviceShareArgs)(nil), func(a, b interface{}, _ conversion.Scope) error {
		return Convert_v1alpha1_DeviceShareArgs_To_config_DeviceShareArgs(a.(*DeviceShareArgs), b.(*config.DeviceShareArgs))
	}); err != nil {
		return err
	}
	return s.AddConversionFunc((*config.DeviceShareArgs)(nil), (*DeviceShareArgs)(nil), func(a, b interface{}, _ conversion.Scope) error {
		return Convert_config_DeviceShareArgs_To_v1alpha1_DeviceShareArgs(a.(*config.DeviceShareArgs), b.(*DeviceShareArgs))
	})
}

// Convert_v1alpha1_DeviceShareArgs_To_config_DeviceShareArgs converts a defaulted versioned object.
func Convert_v1alpha1_DeviceShareArgs_To_config_DeviceShareArgs(in *DeviceShareArgs, out *config.DeviceShareArgs) error { //nolint:revive
	if in.Policy != nil {
		out.Policy = policy.Type(*in.Policy)
	}
	if in.ZoneSpreadWeight != nil {
		out.ZoneSpreadWeight = *in.ZoneSpreadWeight
	}
	if in.WorkloadCoveragePercent != nil {
		out.WorkloadCoveragePercent = *in.WorkloadCoveragePercent
	}
	if in.Seed != nil {
		out.Seed = *in.Seed
	}
	if in.WriteAllocation != nil {
		out.WriteAllocation = *in.WriteAllocation
	}
	out.Workload = nil
	for _, s := range in.Workload {
		out.Workload = append(out.Workload, policy.Shape{
			Kind: device.Kind(s.Kind), CPUMilli: s.CPUMilli, Count: s.Count, Units: s.Percent,
			Models: append([]string(nil), s.Models...), Weight: s.Weight,
		})
	}
	return nil
}

// Convert_config_DeviceShareArgs_To_v1alpha1_DeviceShareArgs converts back.
func Convert_config_DeviceShareArgs_To_v1alpha1_DeviceShareArgs(in *config.DeviceShareArgs, out *DeviceShareArgs) error { //nolint:revive
	p, w, c, s, wa := string(in.Policy), in.ZoneSpreadWeight, in.WorkloadCoveragePercent, in.Seed, in.WriteAllocation
	out.Policy, out.ZoneSpreadWeight, out.WorkloadCoveragePercent, out.Seed, out.WriteAllocation = &p, &w, &c, &s, &wa
	out.Workload = nil
	for _, sh := range in.Workload {
		out.Workload = append(out.Workload, Shape{
			Kind: string(sh.Kind), CPUMilli: sh.CPUMilli, Count: sh.Count, Percent: sh.Units,
			Models: append([]string(nil), sh.Models...), Weight: sh.Weight,
		})
	}
	return nil
}
