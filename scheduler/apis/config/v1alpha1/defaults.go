package v1alpha1

import "github.com/gantry-dev/gantry/core/policy"

// Defaults.
const (
	DefaultPolicy                  = string(policy.Binpack)
	DefaultZoneSpreadWeight        = int32(70)
	DefaultWorkloadCoveragePercent = int32(95)
	DefaultWriteAllocation         = "PreBind"
)

// SetDefaults_DeviceShareArgs fills every unset field.
func SetDefaults_DeviceShareArgs(obj *DeviceShareArgs) { //nolint:revive // conventional defaulter name
	if obj.Policy == nil {
		v := DefaultPolicy
		obj.Policy = &v
	}
	if obj.ZoneSpreadWeight == nil {
		v := DefaultZoneSpreadWeight
		obj.ZoneSpreadWeight = &v
	}
	if obj.WorkloadCoveragePercent == nil {
		v := DefaultWorkloadCoveragePercent
		obj.WorkloadCoveragePercent = &v
	}
	if obj.Seed == nil {
		var v int64
		obj.Seed = &v
	}
	if obj.WriteAllocation == nil {
		v := DefaultWriteAllocation
		obj.WriteAllocation = &v
	}
}
