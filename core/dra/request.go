package dra

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// InvalidClaimError is returned for a claim that asks Gantry devices in a
// way no Gantry device can serve. Schedulers report it on the pod as an
// unresolvable reason instead of leaving the allocator to find no device.
type InvalidClaimError struct {
	Claim   string
	Request string
	Reason  string
}

func (e *InvalidClaimError) Error() string {
	return fmt.Sprintf("ResourceClaim %s, request %q: %s", e.Claim, e.Request, e.Reason)
}

// KindOf returns the kind of device a DeviceClass selects when the class is
// Gantry's.
type KindOf func(class string) (device.Kind, bool)

// RequestOf returns what a pod's claims ask of Gantry devices: one part per
// exact request of a Gantry class in a claim that is not yet allocated
// (allocated claims are already held), with the request's count and its
// capacity.requests.percent (100, a whole device, when it asks none). The
// part's container is "<claim>/<request>". Requests of other classes,
// prioritized lists and requests for all devices are left to the
// allocator's own order; the request is empty when no part remains.
func RequestOf(pod string, claims []*resourceapi.ResourceClaim, kindOf KindOf) (*share.Request, error) {
	req := &share.Request{Pod: pod}
	for _, cl := range claims {
		if cl == nil || cl.Status.Allocation != nil {
			continue
		}
		name := cl.Namespace + "/" + cl.Name
		for _, r := range cl.Spec.Devices.Requests {
			ex := r.Exactly
			if ex == nil {
				continue
			}
			kind, ok := kindOf(ex.DeviceClassName)
			if !ok || ex.AllocationMode == resourceapi.DeviceAllocationModeAll {
				continue
			}
			bad := func(format string, args ...any) (*share.Request, error) {
				return nil, &InvalidClaimError{Claim: name, Request: r.Name, Reason: fmt.Sprintf(format, args...)}
			}
			count := int(ex.Count)
			if count == 0 {
				count = 1
			}
			if count < 0 || count > share.MaxDevices {
				return bad("count %d outside 1..%d", ex.Count, share.MaxDevices)
			}
			units := device.UnitsPerDevice
			if ex.Capacity != nil {
				for capName, q := range ex.Capacity.Requests {
					switch capName {
					case contract.DRACapacityPercent:
						if q.Sign() <= 0 || q.Cmp(*resource.NewQuantity(device.UnitsPerDevice, resource.DecimalSI)) > 0 {
							return bad("asks %s of capacity %q of class %s; a Gantry share is 1..%d percent of one device (ask count for more devices)", q.String(), contract.DRACapacityPercent, ex.DeviceClassName, device.UnitsPerDevice)
						}
						units = int(q.Value())
					case contract.DRACapacityMemory:
						// The allocator checks memory against each card; the
						// share that places the request is its percent.
					default:
						return bad("asks capacity %q, which Gantry devices do not have (they have %q and %q)", capName, contract.DRACapacityPercent, contract.DRACapacityMemory)
					}
				}
			}
			req.Parts = append(req.Parts, share.Part{Container: cl.Name + "/" + r.Name, Kind: kind, Count: count, Units: units})
		}
	}
	req.SortParts()
	return req, nil
}

// RequestOfPod is RequestOf with what the pod says besides its claims, read
// as in device-plugin mode so that a policy decides alike in both: host CPU
// and memory requests, workload, the model annotations
// (gantry.dev/gpu-models, gantry.dev/npu-models), gantry.dev/isolation and
// gantry.dev/allow-shared-device. The claims' CEL selectors bind the
// allocator; the annotations tell the policy, and should name the same
// models (the webhook writes both).
func RequestOfPod(pod *corev1.Pod, claims []*resourceapi.ResourceClaim, kindOf KindOf) (*share.Request, error) {
	req, err := RequestOf(pod.Namespace+"/"+pod.Name, claims, kindOf)
	if err != nil {
		return nil, err
	}
	for _, c := range pod.Spec.Containers {
		req.CPUMilli += c.Resources.Requests.Cpu().MilliValue()
		req.MemoryMiB += c.Resources.Requests.Memory().Value() >> 20
	}
	req.Workload = share.WorkloadOf(pod)
	req.AllowSharedDevice = pod.Annotations[contract.AnnotationAllowSharedDevice] == "true"
	if v, ok := pod.Annotations[contract.AnnotationIsolation]; ok && !req.Empty() {
		iso, err := device.ParseIsolation(v)
		if err != nil {
			return nil, &InvalidClaimError{Claim: "pod " + req.Pod, Request: contract.AnnotationIsolation, Reason: err.Error()}
		}
		req.Isolation = iso
	}
	for _, k := range device.Kinds {
		v, ok := pod.Annotations[contract.ModelsAnnotationFor(k)]
		if !ok || req.Total(k) == 0 {
			continue
		}
		models, err := share.ParseModels(v)
		if err != nil {
			return nil, &InvalidClaimError{Claim: "pod " + req.Pod, Request: contract.ModelsAnnotationFor(k), Reason: err.Error()}
		}
		if req.Models == nil {
			req.Models = map[device.Kind][]string{}
		}
		req.Models[k] = models
	}
	return req, nil
}
