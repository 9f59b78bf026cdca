package dramode

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// podClaim is the name of the pod's claim entry (pod.spec.resourceClaims).
const podClaim = "gantry"

// ClassName is the DeviceClass of Gantry devices of kind k
// (manifests/dra/deviceclasses.yaml).
func ClassName(k device.Kind) string { return string(k) + "." + contract.Domain }

// DeviceClass returns the DeviceClass of kind k as
// manifests/dra/deviceclasses.yaml ships it.
func DeviceClass(k device.Kind) *resourceapi.DeviceClass {
	return &resourceapi.DeviceClass{
		ObjectMeta: metav1.ObjectMeta{Name: ClassName(k), Labels: map[string]string{contract.LabelDeviceClassKind: string(k)}},
		Spec: resourceapi.DeviceClassSpec{Selectors: []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{
			Expression: fmt.Sprintf("device.driver == %q && device.attributes[%q].kind == %q", contract.DRADriver, contract.DRADriver, k),
		}}}},
	}
}

// Claimed turns a pod that asks Gantry devices as in device-plugin mode
// (gantry.dev/gpu-percent, the model annotation) into the pod and the
// ResourceClaim it is in DRA mode: the extended resources are gone, the pod
// names one claim (named after the pod) with one request per container that
// asked devices (named after the container): count devices of the kind's
// class, capacity.requests.percent for a share of one card (none for whole
// cards, which take the device's default, 100), the allowed models as a CEL
// selector. The model annotation stays for the policy (core/dra.RequestOfPod
// reads it, as the webhook writes both). A pod that asks no device comes
// back unchanged, with no claim. pod itself is not changed.
func Claimed(pod *corev1.Pod) (*corev1.Pod, *resourceapi.ResourceClaim, error) {
	req, err := share.Parse(pod)
	if err != nil {
		return nil, nil, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if req.Empty() {
		return pod, nil, nil
	}
	out := pod.DeepCopy()
	claim := &resourceapi.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID + "-claim"}}
	byContainer := map[string][]share.Part{}
	for _, p := range req.Parts {
		byContainer[p.Container] = append(byContainer[p.Container], p)
	}
	for i := range out.Spec.Containers {
		c := &out.Spec.Containers[i]
		for _, k := range device.Kinds {
			delete(c.Resources.Limits, contract.ResourceFor(k))
			delete(c.Resources.Requests, contract.ResourceFor(k))
		}
		for _, p := range byContainer[c.Name] {
			name := c.Name
			if len(byContainer[c.Name]) > 1 {
				name += "-" + string(p.Kind)
			}
			claim.Spec.Devices.Requests = append(claim.Spec.Devices.Requests, resourceapi.DeviceRequest{Name: name, Exactly: exact(p, req.Models[p.Kind])})
			c.Resources.Claims = append(c.Resources.Claims, corev1.ResourceClaim{Name: podClaim, Request: name})
		}
	}
	out.Spec.ResourceClaims = append(out.Spec.ResourceClaims, corev1.PodResourceClaim{Name: podClaim, ResourceClaimName: ptr.To(claim.Name)})
	return out, claim, nil
}

// exact is the request for one part.
func exact(p share.Part, models []string) *resourceapi.ExactDeviceRequest {
	ex := &resourceapi.ExactDeviceRequest{DeviceClassName: ClassName(p.Kind), AllocationMode: resourceapi.DeviceAllocationModeExactCount, Count: int64(p.Count)}
	if !p.Whole() {
		ex.Capacity = &resourceapi.CapacityRequirements{Requests: map[resourceapi.QualifiedName]resource.Quantity{
			contract.DRACapacityPercent: *resource.NewQuantity(int64(p.Units), resource.DecimalSI),
		}}
	}
	if len(models) > 0 {
		quoted := make([]string, len(models))
		for i, m := range models {
			quoted[i] = strconv.Quote(m)
		}
		ex.Selectors = []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{
			Expression: fmt.Sprintf("device.attributes[%q].%s in [%s]", contract.DRADriver, contract.DRAAttrModel, strings.Join(quoted, ", ")),
		}}}
	}
	return ex
}
