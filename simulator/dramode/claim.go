package dramode

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
)

// DeviceClass returns Gantry's DeviceClass of kind k as
// manifests/dra/deviceclasses.yaml ships it.
func DeviceClass(k device.Kind) *resourceapi.DeviceClass {
	return &resourceapi.DeviceClass{
		ObjectMeta: metav1.ObjectMeta{Name: coredra.DeviceClassFor(k), Labels: map[string]string{contract.LabelDeviceClassKind: string(k)}},
		Spec: resourceapi.DeviceClassSpec{Selectors: []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{
			Expression: fmt.Sprintf("device.driver == %q && device.attributes[%q].kind == %q", contract.DRADriver, contract.DRADriver, k),
		}}}},
	}
}

// Claim is one of a pod's claims in DRA mode and the container it serves.
type Claim struct {
	Container string
	*resourceapi.ResourceClaim
}

// Claimed turns a pod that asks Gantry devices as in device-plugin mode
// (gantry.dev/<kind>-percent, the model and isolation annotations) into the
// pod and the ResourceClaims it has in DRA mode, as Gantry's webhook
// rewrites it and kube-controller-manager then creates its claims: each
// container that asked a share names one claim (entry "gantry-<container>")
// whose spec is core/dra.ClaimTemplate's for the share, and no longer asks
// the extended resource. The claims are named "<pod>-<entry>" (the
// controller adds a random suffix) and already named in the pod's status,
// so the pod can be scheduled at once. The annotations stay for the policy,
// which reads them (core/dra.RequestOfPod). A pod that asks no device comes
// back unchanged, with no claim. pod itself is not changed.
func Claimed(pod *corev1.Pod) (*corev1.Pod, []Claim, error) {
	req, err := share.Parse(pod)
	if err != nil {
		return nil, nil, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if req.Empty() {
		return pod, nil, nil
	}
	parts := map[string]share.Part{}
	for _, p := range req.Parts {
		parts[p.Container] = p
	}
	out := pod.DeepCopy()
	var claims []Claim
	for i := range out.Spec.Containers {
		c := &out.Spec.Containers[i]
		p, ok := parts[c.Name]
		if !ok {
			continue
		}
		for _, k := range device.Kinds {
			delete(c.Resources.Limits, contract.ResourceFor(k))
			delete(c.Resources.Requests, contract.ResourceFor(k))
		}
		entry := podClaimPrefix + c.Name
		tmpl := coredra.ClaimTemplate(pod.Namespace, coredra.ShareOf(req, p))
		claim := &resourceapi.ResourceClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name + "-" + entry, UID: pod.UID + "/" + types.UID(entry),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
			Spec: tmpl.Spec.Spec,
		}
		claims = append(claims, Claim{Container: c.Name, ResourceClaim: claim})
		c.Resources.Claims = append(c.Resources.Claims, corev1.ResourceClaim{Name: entry})
		out.Spec.ResourceClaims = append(out.Spec.ResourceClaims, corev1.PodResourceClaim{Name: entry, ResourceClaimTemplateName: ptr.To(tmpl.Name)})
		out.Status.ResourceClaimStatuses = append(out.Status.ResourceClaimStatuses, corev1.PodResourceClaimStatus{Name: entry, ResourceClaimName: ptr.To(claim.Name)})
	}
	return out, claims, nil
}

// podClaimPrefix starts the pod's claim entries, as the webhook names them
// (webhook.PodClaimPrefix).
const podClaimPrefix = "gantry-"
