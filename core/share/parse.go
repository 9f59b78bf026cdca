package share

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// InvalidRequestError lists everything malformed about a pod's request. It is
// never retried: the pod needs fixing.
type InvalidRequestError struct {
	Pod  string
	Errs field.ErrorList
}

func (e *InvalidRequestError) Error() string {
	return fmt.Sprintf("pod %s has an invalid Gantry request: %s", e.Pod, e.Errs.ToAggregate().Error())
}

// MaxDevices is the most devices one container may ask for; larger values
// are rejected rather than risk overflowing unit sums.
const MaxDevices = 1024

// Parse returns what pod asks for. A pod that asks for no device gets an
// empty request and no error. Every malformed resource or annotation is
// reported, each with its field path.
func Parse(pod *corev1.Pod) (*Request, error) { return parse(pod, false) }

// ParseWithClaims is Parse for a pod with spec.resourceClaims, whose claims
// may ask for Gantry devices (DRA mode): a model or isolation annotation is
// then not refused for want of a gantry.dev resource, since it may
// constrain what the claims ask. Everything else is checked as by Parse.
// The request holds only what the pod's resources ask.
func ParseWithClaims(pod *corev1.Pod) (*Request, error) { return parse(pod, true) }

func parse(pod *corev1.Pod, claims bool) (*Request, error) {
	req := &Request{}
	var errs field.ErrorList
	spec := field.NewPath("spec")

	for i, c := range pod.Spec.InitContainers {
		p := spec.Child("initContainers").Index(i).Child("resources")
		for _, k := range device.Kinds {
			name := contract.ResourceFor(k)
			where := "limits"
			if _, ok := c.Resources.Limits[name]; !ok {
				where = "requests"
			}
			if _, ok := quantity(c.Resources, name); ok {
				errs = append(errs, field.Forbidden(p.Child(where).Key(string(name)),
					"init containers may not request Gantry devices; request them on a regular container"))
			}
		}
	}
	// malformed records the kinds some container asks for in a malformed
	// way, so that a model annotation is not also blamed for them.
	malformed := map[device.Kind]bool{}
	for i, c := range pod.Spec.Containers {
		p := spec.Child("containers").Index(i).Child("resources")
		var kinds []device.Kind
		for _, k := range device.Kinds {
			part, ok, err := parsePart(c, k, p)
			if err != nil {
				malformed[k] = true
				errs = append(errs, err)
				continue
			}
			if ok {
				req.Parts = append(req.Parts, part)
				kinds = append(kinds, k)
			}
		}
		if len(kinds) > 1 {
			errs = append(errs, field.Forbidden(p.Child("limits"),
				fmt.Sprintf("a container may request %s or %s, not both", contract.ResourceGPUPercent, contract.ResourceNPUPercent)))
		}
		req.CPUMilli += c.Resources.Requests.Cpu().MilliValue()
		req.MemoryMiB += c.Resources.Requests.Memory().Value() >> 20
	}

	meta := field.NewPath("metadata", "annotations")
	for _, k := range device.Kinds {
		key := contract.ModelsAnnotationFor(k)
		v, ok := pod.Annotations[key]
		if !ok {
			continue
		}
		models, err := ParseModels(v)
		if err != nil {
			errs = append(errs, field.Invalid(meta.Key(key), v, err.Error()))
			continue
		}
		if req.Total(k) == 0 && !malformed[k] {
			if !claims {
				errs = append(errs, field.Invalid(meta.Key(key), v,
					fmt.Sprintf("constrains %s models but the pod requests no %s", k, contract.ResourceFor(k))))
			}
			continue
		}
		if req.Models == nil {
			req.Models = map[device.Kind][]string{}
		}
		req.Models[k] = models
	}
	if v, ok := pod.Annotations[contract.AnnotationAllowSharedDevice]; ok {
		switch v {
		case "true":
			req.AllowSharedDevice = true
		case "false":
		default:
			errs = append(errs, field.Invalid(meta.Key(contract.AnnotationAllowSharedDevice), v, `must be "true" or "false"`))
		}
	}
	if v, ok := pod.Annotations[contract.AnnotationIsolation]; ok {
		iso, err := device.ParseIsolation(v)
		switch {
		case err != nil || v == "":
			errs = append(errs, field.NotSupported(meta.Key(contract.AnnotationIsolation), v, isolationNames()))
		case len(req.Parts) == 0 && len(malformed) == 0:
			if !claims {
				errs = append(errs, field.Invalid(meta.Key(contract.AnnotationIsolation), v,
					fmt.Sprintf("requires device isolation but the pod requests no %s or %s", contract.ResourceGPUPercent, contract.ResourceNPUPercent)))
			}
		default:
			req.Isolation = iso
		}
	}
	req.Workload = WorkloadOf(pod)
	req.Pod = pod.Namespace + "/" + pod.Name
	if len(errs) > 0 {
		return nil, &InvalidRequestError{Pod: pod.Namespace + "/" + pod.Name, Errs: errs}
	}
	req.SortParts()
	return req, nil
}

func quantity(r corev1.ResourceRequirements, name corev1.ResourceName) (resource.Quantity, bool) {
	if q, ok := r.Limits[name]; ok {
		return q, true
	}
	q, ok := r.Requests[name]
	return q, ok
}

func parsePart(c corev1.Container, k device.Kind, p *field.Path) (Part, bool, *field.Error) {
	name := contract.ResourceFor(k)
	q, ok := quantity(c.Resources, name)
	if !ok {
		return Part{}, false, nil
	}
	path := p.Child("limits").Key(string(name))
	if rq, ok := c.Resources.Requests[name]; ok && rq.Cmp(q) != 0 {
		return Part{}, false, field.Invalid(p.Child("requests").Key(string(name)), rq.String(), "must equal the limit "+q.String())
	}
	v, exact := q.AsInt64()
	if !exact {
		return Part{}, false, field.Invalid(path, q.String(), "must be a whole number of percent (1..100, or a multiple of 100 for whole devices)")
	}
	switch {
	case v == 0:
		return Part{}, false, nil
	case v < 0:
		return Part{}, false, field.Invalid(path, v, "must not be negative")
	case v > MaxDevices*device.UnitsPerDevice:
		return Part{}, false, field.Invalid(path, v, fmt.Sprintf("asks for more than %d devices", MaxDevices))
	case v <= device.UnitsPerDevice:
		return Part{Container: c.Name, Kind: k, Count: 1, Units: int(v)}, true, nil
	case v%device.UnitsPerDevice != 0:
		return Part{}, false, field.Invalid(path, v, fmt.Sprintf("above %d must be a whole multiple of %d (whole devices); %d is %d.%02d devices",
			device.UnitsPerDevice, device.UnitsPerDevice, v, v/device.UnitsPerDevice, v%device.UnitsPerDevice))
	default:
		return Part{Container: c.Name, Kind: k, Count: int(v / device.UnitsPerDevice), Units: device.UnitsPerDevice}, true, nil
	}
}

// ParseModels parses a model list such as "V100M16|V100M32".
func ParseModels(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("empty model list; omit the annotation to accept any model")
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range strings.Split(v, "|") {
		m = strings.TrimSpace(m)
		if !device.ValidModel(m) {
			return nil, fmt.Errorf("model %q is not a valid model name (letters, digits, '.', '_' and '-', separated by '|')", m)
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out, nil
}

// WorkloadOf returns the workload key pod is a replica of: its
// gantry.dev/workload label, else its controller owner (a Deployment's, for
// pods of its ReplicaSets), else "".
func WorkloadOf(pod *corev1.Pod) string {
	if w := pod.Labels[contract.LabelWorkload]; w != "" {
		return pod.Namespace + "/" + w
	}
	for _, ref := range pod.OwnerReferences {
		if ref.Controller == nil || !*ref.Controller {
			continue
		}
		// A Deployment's pods belong to one ReplicaSet per template; old and
		// new replicas of a rollout are still one workload. The ReplicaSet
		// is named <deployment>-<pod-template-hash>.
		if hash := pod.Labels["pod-template-hash"]; ref.Kind == "ReplicaSet" && hash != "" && strings.HasSuffix(ref.Name, "-"+hash) {
			return pod.Namespace + "/Deployment/" + strings.TrimSuffix(ref.Name, "-"+hash)
		}
		return pod.Namespace + "/" + ref.Kind + "/" + ref.Name
	}
	return ""
}

func isolationNames() []string {
	out := make([]string, len(device.Isolations))
	for i, l := range device.Isolations {
		out[i] = string(l)
	}
	return out
}
