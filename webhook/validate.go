package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/share"
)

// validate refuses malformed share requests at creation, with the field
// paths share.Parse (and so the scheduler) reports.
func (a *admitter) validate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	pod, resp := podOnCreate(req)
	if pod == nil {
		return resp
	}
	if _, err := share.Parse(pod); err != nil {
		var ire *share.InvalidRequestError
		if errors.As(err, &ire) {
			return invalid(ire.Errs)
		}
		return deny(422, metav1.StatusReasonInvalid, err.Error())
	}
	return allow()
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
