package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/share"
)

// validate refuses malformed share requests with the field paths
// share.Parse (and so the scheduler) reports: at creation, and on an update
// (where only annotations can change: the model lists, the isolation level,
// allow-shared-device) for what the update makes malformed. An error the
// pod had before the update is not held against it (ratcheting, as
// kube-apiserver's own validation does), so a pod admitted before the
// webhook was installed can still be labelled or finalized.
func (a *admitter) validate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	pod, old, resp := podOnWrite(req)
	if pod == nil {
		return resp
	}
	errs := shareErrors(pod)
	if old != nil {
		errs = introduced(errs, shareErrors(old))
	}
	if len(errs) > 0 {
		return invalid(errs)
	}
	resp = allow()
	if old != nil && old.Spec.NodeName != "" {
		for _, key := range changedShareAnnotations(old, pod) {
			resp.Warnings = append(resp.Warnings, fmt.Sprintf("metadata.annotations[%s]: pod %s/%s is already bound to node %q; the change does not move it or its devices",
				key, req.Namespace, podName(req), old.Spec.NodeName))
		}
	}
	return resp
}

// podOnWrite decodes the pod of a CREATE or UPDATE (and the old pod of an
// UPDATE); any other request is allowed untouched (resp is then the answer).
func podOnWrite(req *admissionv1.AdmissionRequest) (pod, old *corev1.Pod, resp *admissionv1.AdmissionResponse) {
	if req.Operation != admissionv1.Update {
		pod, resp = podOnCreate(req)
		return pod, nil, resp
	}
	if req.SubResource != "" || req.Kind.Kind != "Pod" {
		return nil, nil, allow()
	}
	pod, err := decodePod(req.Object.Raw)
	if err != nil {
		return nil, nil, deny(400, metav1.StatusReasonBadRequest, err.Error())
	}
	if old, err = decodePod(req.OldObject.Raw); err != nil {
		return nil, nil, deny(400, metav1.StatusReasonBadRequest, "old object: "+err.Error())
	}
	return pod, old, nil
}

// shareErrors returns what is malformed about pod's share request. A pod
// with resource claims may carry model and isolation annotations for what
// its claims ask (share.ParseWithClaims).
func shareErrors(pod *corev1.Pod) field.ErrorList {
	parse := share.Parse
	if len(pod.Spec.ResourceClaims) > 0 {
		parse = share.ParseWithClaims
	}
	_, err := parse(pod)
	if err == nil {
		return nil
	}
	var ire *share.InvalidRequestError
	if errors.As(err, &ire) {
		return ire.Errs
	}
	return field.ErrorList{field.InternalError(field.NewPath("spec"), err)}
}

// introduced returns the errors of errs that were not already in before.
func introduced(errs, before field.ErrorList) field.ErrorList {
	had := map[string]bool{}
	for _, e := range before {
		had[e.Error()] = true
	}
	var out field.ErrorList
	for _, e := range errs {
		if !had[e.Error()] {
			out = append(out, e)
		}
	}
	return out
}

// changedShareAnnotations lists the gantry.dev annotations other than the
// allocation records that differ between old and pod, sorted.
func changedShareAnnotations(old, pod *corev1.Pod) []string {
	var out []string
	for _, m := range []map[string]string{pod.Annotations, old.Annotations} {
		for k := range m {
			if !strings.HasPrefix(k, contract.Domain+"/") || slices.Contains(authorityKeys, k) || slices.Contains(out, k) {
				continue
			}
			before, had := old.Annotations[k]
			after, has := pod.Annotations[k]
			if had != has || before != after {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// validateWriters refuses writes of Gantry's allocation annotations by
// anyone but Gantry: pod create and update, pods/status and pods/binding.
func (a *admitter) validateWriters(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if req.Resource.Group != "" || req.Resource.Resource != "pods" {
		return allow()
	}
	switch {
	case req.SubResource == "binding" && req.Operation == admissionv1.Create:
		return a.validateBinding(req)
	case req.SubResource == "" || req.SubResource == "status":
	default:
		return allow()
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return allow()
	}
	pod, err := decodePod(req.Object.Raw)
	if err != nil {
		return deny(400, metav1.StatusReasonBadRequest, err.Error())
	}
	var old *corev1.Pod
	if req.Operation == admissionv1.Update {
		if old, err = decodePod(req.OldObject.Raw); err != nil {
			return deny(400, metav1.StatusReasonBadRequest, "old object: "+err.Error())
		}
	}
	if resp := a.authority(req, old, pod.Annotations, pod.Spec.NodeName); resp != nil {
		return resp
	}
	return allow()
}

// validateBinding checks a pods/binding: its annotations are copied onto
// the pod, so a Binding is one more way to write them.
func (a *admitter) validateBinding(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	var b corev1.Binding
	if err := json.Unmarshal(req.Object.Raw, &b); err != nil {
		return deny(400, metav1.StatusReasonBadRequest, fmt.Sprintf("the request's object is not a Binding: %v", err))
	}
	if resp := a.authority(req, nil, b.Annotations, b.Target.Name); resp != nil {
		return resp
	}
	return allow()
}

// authorityKeys are the annotations only Gantry may write.
var authorityKeys = []string{contract.AnnotationAllocation, contract.AnnotationAllocated}

// authority returns a denial when the request sets or changes a Gantry
// allocation annotation it may not, nil otherwise. old is nil on CREATE
// (and for a Binding, whose annotations are all writes); node is the node
// the pod is bound to after the request.
func (a *admitter) authority(req *admissionv1.AdmissionRequest, old *corev1.Pod, annotations map[string]string, node string) *admissionv1.AdmissionResponse {
	var oldAnn map[string]string
	if old != nil {
		oldAnn = old.Annotations
		if old.Spec.NodeName != "" {
			node = old.Spec.NodeName
		}
	}
	user := req.UserInfo.Username
	for _, key := range authorityKeys {
		before, had := oldAnn[key]
		after, has := annotations[key]
		if had == has && before == after {
			continue
		}
		if req.SubResource == "binding" && !has {
			continue
		}
		if err := a.mayWrite(req.UserInfo.Username, req.UserInfo.Extra[ExtraNodeName], key, has, node); err != nil {
			return deny(403, metav1.StatusReasonForbidden, fmt.Sprintf("%s of pod %s/%s refused for user %q: %v",
				key, req.Namespace, podName(req), user, err))
		}
	}
	return nil
}

// mayWrite says whether user (with the node claim nodes) may change key on
// a pod bound to node; set is false for a removal.
func (a *admitter) mayWrite(user string, nodes []string, key string, set bool, node string) error {
	switch {
	case slices.Contains(a.cfg.SchedulerUsers, user):
		if key == contract.AnnotationAllocation {
			return nil
		}
		return fmt.Errorf("only the node agent records what kubelet allocated")
	case slices.Contains(a.cfg.AgentUsers, user):
		if key == contract.AnnotationAllocation && set {
			return fmt.Errorf("only the scheduler writes the allocation intent; the node agent may only remove it")
		}
		if len(nodes) != 1 || nodes[0] == "" {
			return fmt.Errorf("the node agent's token carries no node claim (%s)", ExtraNodeName)
		}
		if node != nodes[0] {
			return fmt.Errorf("the node agent of node %q may only write pods bound to it, not to %q", nodes[0], node)
		}
		return nil
	default:
		return fmt.Errorf("only Gantry's scheduler and node agent may set or change it")
	}
}

func podName(req *admissionv1.AdmissionRequest) string {
	if req.Name != "" {
		return req.Name
	}
	return "(generated name)"
}
