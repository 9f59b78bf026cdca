package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
)

// LabelMode on a namespace chooses how its pods' shares are served:
// ModeDRA ("gantry.dev/mode: dra") has the webhook rewrite each share
// asked through gantry.dev/<kind>-percent into a ResourceClaimTemplate
// reference ([PathDRA]); without it shares stay extended resources for the
// device plugin.
const (
	LabelMode = contract.Domain + "/mode"
	ModeDRA   = "dra"
)

// PodClaimPrefix starts the name of every pod claim the rewrite adds:
// "gantry-<container>".
const PodClaimPrefix = "gantry-"

// templateTimeout bounds the read of a template within the webhook's 5 s.
const templateTimeout = 3 * time.Second

// rewriteDRA serves [PathDRA]: in a DRA-mode namespace (the webhook
// configuration's namespaceSelector), a pod asking a share through
// gantry.dev/<kind>-percent gets it through a claim instead, then the
// scheduler name.
func (a *admitter) rewriteDRA(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	pod, resp := podOnCreate(req)
	if pod == nil {
		return resp
	}
	if req.Namespace == "" {
		return deny(400, metav1.StatusReasonBadRequest, "the review of a pod names no namespace, so no ResourceClaimTemplate can be looked up")
	}
	nameOps := a.schedulerNameOps(pod)
	ops, errs, err := a.draOps(ctx, req.Namespace, pod)
	switch {
	case err != nil:
		return deny(500, metav1.StatusReasonInternalError, err.Error())
	case len(errs) > 0:
		return invalid(errs)
	}
	return a.respond(append(ops, nameOps...), nil)
}

// draOps returns the patch that replaces each container's
// gantry.dev/<kind>-percent by a claim from the ResourceClaimTemplate
// dra.ClaimTemplate makes for the share (with the pod's model and
// isolation constraints as CEL selectors; the annotations stay for the
// scheduler's policy). The template must exist in the namespace and ask
// exactly that; errs says which template is missing or differs, and how to
// create it. A pod that asks no Gantry resource (one written with claims,
// or already rewritten) gets no patch. err is a failure to read a
// template.
func (a *admitter) draOps(ctx context.Context, namespace string, pod *corev1.Pod) ([]jsonPatchOp, field.ErrorList, error) {
	if !asksGantry(pod) {
		return nil, nil, nil
	}
	parse := share.Parse
	if len(pod.Spec.ResourceClaims) > 0 {
		parse = share.ParseWithClaims
	}
	req, err := parse(pod)
	if err != nil {
		return nil, shareErrors(pod), nil
	}
	parts := map[string]share.Part{}
	for _, p := range req.Parts {
		parts[p.Container] = p
	}
	taken := map[string]int{}
	for i, pc := range pod.Spec.ResourceClaims {
		taken[pc.Name] = i
	}
	var (
		ops    []jsonPatchOp
		claims []corev1.PodResourceClaim
		errs   field.ErrorList
		seen   = map[string]*field.Error{}
	)
	spec := field.NewPath("spec")
	for i := range pod.Spec.Containers {
		c := pod.Spec.Containers[i]
		part, ok := parts[c.Name]
		if !ok {
			continue
		}
		where := spec.Child("containers").Index(i).Child("resources", "limits").Key(string(contract.ResourceFor(part.Kind)))
		tmpl := dra.ClaimTemplate(namespace, dra.ShareOf(req, part))
		fe, checked := seen[tmpl.Name]
		if !checked {
			if fe, err = a.checkTemplate(ctx, where, tmpl); err != nil {
				return nil, nil, err
			}
			seen[tmpl.Name] = fe
		}
		if fe != nil {
			errs = append(errs, fe)
			continue
		}
		name := podClaimName(c.Name, i)
		if j, dup := taken[name]; dup {
			at := spec.Child("containers").Index(i).Child("name")
			if j >= 0 {
				at = spec.Child("resourceClaims").Index(j).Child("name")
			}
			errs = append(errs, field.Invalid(at, name,
				fmt.Sprintf("Gantry's DRA rewrite names the claim of container %q's share so; rename the pod's own claim or the container", c.Name)))
			continue
		}
		taken[name] = -1
		claims = append(claims, corev1.PodResourceClaim{Name: name, ResourceClaimTemplateName: &tmpl.Name})
		res := *c.Resources.DeepCopy()
		for _, k := range device.Kinds {
			delete(res.Limits, contract.ResourceFor(k))
			delete(res.Requests, contract.ResourceFor(k))
		}
		if len(res.Limits) == 0 {
			res.Limits = nil
		}
		if len(res.Requests) == 0 {
			res.Requests = nil
		}
		res.Claims = append(res.Claims, corev1.ResourceClaim{Name: name})
		ops = append(ops, jsonPatchOp{Op: "add", Path: fmt.Sprintf("/spec/containers/%d/resources", i), Value: res})
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	switch {
	case len(claims) == 0:
	case len(pod.Spec.ResourceClaims) == 0:
		ops = append(ops, jsonPatchOp{Op: "add", Path: "/spec/resourceClaims", Value: claims})
	default:
		for _, pc := range claims {
			ops = append(ops, jsonPatchOp{Op: "add", Path: "/spec/resourceClaims/-", Value: pc})
		}
	}
	if len(claims) > 0 {
		klog.FromContext(ctx).V(4).Info("Rewriting shares into claims", "pod", klog.KObj(pod), "claims", len(claims))
	}
	return ops, nil, nil
}

// checkTemplate returns a field error at where when want does not exist
// in its namespace or asks something else than want; err when it cannot
// be read.
func (a *admitter) checkTemplate(ctx context.Context, where *field.Path, want *resourceapi.ResourceClaimTemplate) (*field.Error, error) {
	value := want.Labels[dra.LabelTemplatePercent]
	if a.cfg.ClaimTemplates == nil {
		return nil, fmt.Errorf("gantry-webhook runs without API access, so it cannot look up ResourceClaimTemplate %s/%s for a DRA-mode namespace", want.Namespace, want.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, templateTimeout)
	defer cancel()
	got, err := a.cfg.ClaimTemplates.ResourceClaimTemplates(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return field.Invalid(where, value, fmt.Sprintf(
			"namespace %q is in DRA mode (%s=%s), so this share is asked through ResourceClaimTemplate %q, which does not exist there; create it with: %s",
			want.Namespace, LabelMode, ModeDRA, want.Name, applyCommand(want))), nil
	case err != nil:
		return nil, fmt.Errorf("reading ResourceClaimTemplate %s/%s: %w", want.Namespace, want.Name, err)
	case !dra.SameClaimSpec(want.Spec.Spec, got.Spec.Spec):
		return field.Invalid(where, value, fmt.Sprintf(
			"namespace %q is in DRA mode (%s=%s), so this share is asked through ResourceClaimTemplate %q, but that template asks something else; fix it to Gantry's with: %s",
			want.Namespace, LabelMode, ModeDRA, want.Name, applyCommand(want))), nil
	}
	return nil, nil
}

// applyCommand is a shell command that creates (or fixes) the template.
func applyCommand(t *resourceapi.ResourceClaimTemplate) string {
	out := t.DeepCopy()
	out.Namespace = ""
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Sprintf("(encoding the template failed: %v)", err)
	}
	return fmt.Sprintf("printf '%%s' '%s' | kubectl apply -n %s -f -", b, t.Namespace)
}

// podClaimName names the pod claim of container c (at index i):
// "gantry-<c>", or "gantry-<i>" where that is no valid claim name.
func podClaimName(c string, i int) string {
	if name := PodClaimPrefix + c; len(validation.IsDNS1123Label(name)) == 0 {
		return name
	}
	return PodClaimPrefix + strconv.Itoa(i)
}
