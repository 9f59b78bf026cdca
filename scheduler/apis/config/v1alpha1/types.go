package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// SchemeGroupVersion is gantry.dev/v1alpha1.
var SchemeGroupVersion = schema.GroupVersion{Group: "gantry.dev", Version: "v1alpha1"}

// DeviceShareArgs configures the GantryDeviceShare plugin.
type DeviceShareArgs struct {
	metav1.TypeMeta `json:",inline"`

	// Policy is one of Binpack (default), Spread, FGD, BestFit, DotProduct,
	// GPUPacking, GPUClustering, Random, LookaheadFGD.
	Policy *string `json:"policy,omitempty"`
	// ZoneSpreadWeight (0..100, default 70) is how much spreading replicas
	// of one workload across zones counts against packing.
	ZoneSpreadWeight *int32 `json:"zoneSpreadWeight,omitempty"`
	// Workload lists request shapes and their weights for FGD and
	// LookaheadFGD. Empty: learn the distribution from the pods the
	// scheduler sees.
	Workload []Shape `json:"workload,omitempty"`
	// WorkloadCoveragePercent (1..100, default 95) keeps the most frequent
	// observed shapes until they cover this share of pods.
	WorkloadCoveragePercent *int32 `json:"workloadCoveragePercent,omitempty"`
	// Seed makes the Random policy reproducible (default 0).
	Seed *int64 `json:"seed,omitempty"`
	// WriteAllocation is where the chosen devices are written on the pod:
	// PreBind (default: a patch before binding, works with any binder) or
	// Bind (in the Binding itself, one API write per pod fewer; enable
	// GantryDeviceShare as a bind plugin ahead of DefaultBinder).
	WriteAllocation *string `json:"writeAllocation,omitempty"`
}

// Shape is one request shape of a workload.
type Shape struct {
	// Kind is gpu (default) or npu.
	Kind string `json:"kind,omitempty"`
	// CPUMilli is the host CPU the shape asks for.
	CPUMilli int64 `json:"cpuMilli,omitempty"`
	// Count devices of Percent each (Count 0: no device).
	Count   int `json:"count"`
	Percent int `json:"percent,omitempty"`
	// Models the shape may use; empty: any.
	Models []string `json:"models,omitempty"`
	// Weight of the shape; weights are normalised to sum to 1.
	Weight float64 `json:"weight"`
}

// DeepCopyObject implements runtime.Object.
func (in *DeviceShareArgs) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := *in
	if in.Policy != nil {
		v := *in.Policy
		out.Policy = &v
	}
	if in.ZoneSpreadWeight != nil {
		v := *in.ZoneSpreadWeight
		out.ZoneSpreadWeight = &v
	}
	if in.WorkloadCoveragePercent != nil {
		v := *in.WorkloadCoveragePercent
		out.WorkloadCoveragePercent = &v
	}
	if in.Seed != nil {
		v := *in.Seed
		out.Seed = &v
	}
	if in.WriteAllocation != nil {
		v := *in.WriteAllocation
		out.WriteAllocation = &v
	}
	if in.Workload != nil {
		out.Workload = make([]Shape, len(in.Workload))
		for i, s := range in.Workload {
			out.Workload[i] = s
			out.Workload[i].Models = append([]string(nil), s.Models...)
		}
	}
	return &out
}
