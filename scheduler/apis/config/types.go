package config

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantry-dev/gantry/core/policy"
)

// GroupName is the API group of Gantry's configuration files.
const GroupName = "gantry.dev"

// SchemeGroupVersion is the internal version.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}

// DeviceShareArgs configures the GantryDeviceShare plugin.
type DeviceShareArgs struct {
	metav1.TypeMeta

	// Policy places shares on nodes and devices.
	Policy policy.Type
	// ZoneSpreadWeight (0..100) is how much spreading replicas of one
	// workload across zones counts against the policy's packing.
	ZoneSpreadWeight int32
	// Workload is the distribution of request shapes FGD measures
	// fragmentation against. Empty means: learn it from the pods the
	// scheduler sees.
	Workload []policy.Shape
	// WorkloadCoveragePercent keeps the most frequent observed shapes until
	// they cover this share of pods (the FGD paper uses 95).
	WorkloadCoveragePercent int32
	// Seed makes the Random policy reproducible.
	Seed int64
	// WriteAllocation says where the chosen devices are written on the pod:
	// PreBind (a patch before binding) or Bind (in the Binding itself).
	WriteAllocation string
}

// Where the plugin writes a pod's allocation.
const (
	WriteInPreBind = "PreBind"
	WriteInBind    = "Bind"
)

// DeepCopyObject implements runtime.Object.
func (in *DeviceShareArgs) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := *in
	out.Workload = DeepCopyShapes(in.Workload)
	return &out
}

// DeepCopyShapes copies shapes and their model lists.
func DeepCopyShapes(in []policy.Shape) []policy.Shape {
	if in == nil {
		return nil
	}
	out := make([]policy.Shape, len(in))
	for i, s := range in {
		out[i] = s
		out[i].Models = append([]string(nil), s.Models...)
	}
	return out
}

// AddToScheme registers the internal types.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &DeviceShareArgs{})
	return nil
}
