package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// jsonPatchOp is one RFC 6902 operation.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// mutate sets the scheduler name on pods that ask for Gantry devices.
func (a *admitter) mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	pod, resp := podOnCreate(req)
	if pod == nil {
		return resp
	}
	return a.respond(a.schedulerNameOps(pod), nil)
}

// translate rewrites nvidia.com/gpu into gantry.dev/gpu-percent, then sets
// the scheduler name.
func (a *admitter) translate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	pod, resp := podOnCreate(req)
	if pod == nil {
		return resp
	}
	ops, warnings, errs := translateOps(pod)
	if len(errs) > 0 {
		return invalid(errs)
	}
	return a.respond(append(ops, a.schedulerNameOps(pod)...), warnings)
}

// podOnCreate decodes the pod of a CREATE; any other request is allowed
// untouched (resp is then the answer).
func podOnCreate(req *admissionv1.AdmissionRequest) (*corev1.Pod, *admissionv1.AdmissionResponse) {
	if req.Operation != admissionv1.Create || req.SubResource != "" || req.Kind.Kind != "Pod" {
		return nil, allow()
	}
	pod, err := decodePod(req.Object.Raw)
	if err != nil {
		return nil, deny(400, metav1.StatusReasonBadRequest, err.Error())
	}
	return pod, nil
}

func decodePod(raw []byte) (*corev1.Pod, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		return nil, fmt.Errorf("the request's object is not a Pod: %w", err)
	}
	return &pod, nil
}

func (a *admitter) respond(ops []jsonPatchOp, warnings []string) *admissionv1.AdmissionResponse {
	resp := allow()
	resp.Warnings = warnings
	if len(ops) == 0 {
		return resp
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return deny(500, metav1.StatusReasonInternalError, fmt.Sprintf("encoding the patch: %v", err))
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	return resp
}

// schedulerNameOps names Gantry's profile on a pod that asks for Gantry
// devices and names no scheduler of its own (the API server has defaulted
// an empty name to default-scheduler by now).
func (a *admitter) schedulerNameOps(pod *corev1.Pod) []jsonPatchOp {
	if !asksGantry(pod) || pod.Spec.SchedulerName == a.cfg.SchedulerName {
		return nil
	}
	if pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != corev1.DefaultSchedulerName {
		return nil // another scheduler, named on purpose
	}
	return []jsonPatchOp{{Op: "add", Path: "/spec/schedulerName", Value: a.cfg.SchedulerName}}
}

// asksGantry reports whether any container asks for a gantry.dev resource.
func asksGantry(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			for _, rl := range []corev1.ResourceList{c.Resources.Limits, c.Resources.Requests} {
				for name := range rl {
					if strings.HasPrefix(string(name), contract.Domain+"/") {
						return true
					}
				}
			}
		}
	}
	return false
}

// translateOps rewrites nvidia.com/gpu: N on each regular container into
// gantry.dev/gpu-percent: N*100 (limit and request). Init containers are
// left as they are, with a warning: Gantry devices are not given to them.
func translateOps(pod *corev1.Pod) ([]jsonPatchOp, []string, field.ErrorList) {
	var (
		ops      []jsonPatchOp
		warnings []string
		errs     field.ErrorList
	)
	spec := field.NewPath("spec")
	for i, c := range pod.Spec.InitContainers {
		if _, ok := quantity(c.Resources, ResourceNVIDIAGPU); ok {
			warnings = append(warnings, fmt.Sprintf("%s asks for %s, which Gantry does not translate for init containers",
				spec.Child("initContainers").Index(i), ResourceNVIDIAGPU))
		}
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		path := spec.Child("containers").Index(i).Child("resources")
		q, ok := quantity(c.Resources, ResourceNVIDIAGPU)
		if !ok {
			continue
		}
		where := path.Child("limits").Key(ResourceNVIDIAGPU)
		if _, has := quantity(c.Resources, contract.ResourceGPUPercent); has {
			errs = append(errs, field.Forbidden(where, fmt.Sprintf("cannot be translated: the container also asks for %s", contract.ResourceGPUPercent)))
			continue
		}
		n, exact := q.AsInt64()
		if !exact || n < 0 {
			errs = append(errs, field.Invalid(where, q.String(), "must be a whole number of GPUs to be translated"))
			continue
		}
		if n > int64(maxTranslatedGPUs) {
			errs = append(errs, field.Invalid(where, n, fmt.Sprintf("asks for more than %d GPUs", maxTranslatedGPUs)))
			continue
		}
		res := *c.Resources.DeepCopy()
		delete(res.Limits, ResourceNVIDIAGPU)
		delete(res.Requests, ResourceNVIDIAGPU)
		if n > 0 {
			pct := *resource.NewQuantity(n*device.UnitsPerDevice, resource.DecimalSI)
			if res.Limits == nil {
				res.Limits = corev1.ResourceList{}
			}
			if res.Requests == nil {
				res.Requests = corev1.ResourceList{}
			}
			res.Limits[contract.ResourceGPUPercent] = pct
			res.Requests[contract.ResourceGPUPercent] = pct
		}
		c.Resources = res // so that the scheduler-name step sees the translation
		ops = append(ops, jsonPatchOp{Op: "add", Path: fmt.Sprintf("/spec/containers/%d/resources", i), Value: res})
	}
	return ops, warnings, errs
}

// maxTranslatedGPUs matches share.MaxDevices.
const maxTranslatedGPUs = 1024

func quantity(r corev1.ResourceRequirements, name corev1.ResourceName) (resource.Quantity, bool) {
	if q, ok := r.Limits[name]; ok {
		return q, true
	}
	q, ok := r.Requests[name]
	return q, ok
}

// invalid refuses with the field errors, as kube-apiserver reports its own
// validation errors (422, one cause per field).
func invalid(errs field.ErrorList) *admissionv1.AdmissionResponse {
	causes := make([]metav1.StatusCause, 0, len(errs))
	for _, e := range errs {
		causes = append(causes, metav1.StatusCause{Type: metav1.CauseType(e.Type), Message: e.ErrorBody(), Field: e.Field})
	}
	return deny(422, metav1.StatusReasonInvalid, "invalid Gantry request: "+errs.ToAggregate().Error(), causes...)
}
