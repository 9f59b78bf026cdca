package dra

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// LabelTemplatePercent labels each of Gantry's ResourceClaimTemplates with
// the gantry.dev/<kind>-percent value it stands for ("25", "200").
const LabelTemplatePercent = contract.Domain + "/percent"

// DeviceClassFor returns the name of Gantry's DeviceClass for kind k
// ("gpu.gantry.dev", "npu.gantry.dev"), as manifests/dra ships it.
func DeviceClassFor(k device.Kind) string { return string(k) + "." + contract.Domain }

// TemplateShare is what one container asks through gantry.dev/<kind>-percent
// and the pod's constraints on it, as one ResourceClaimTemplate can ask it.
type TemplateShare struct {
	Part share.Part
	// Models are the models the pod accepts for Part.Kind; none: any.
	Models []string
	// Isolation is the level the pod requires; empty or none: any.
	Isolation device.Isolation
}

// ShareOf returns what container part p of req asks, with req's
// constraints on p's kind.
func ShareOf(req *share.Request, p share.Part) TemplateShare {
	s := TemplateShare{Part: p, Models: req.Models[p.Kind]}
	if req.Isolation != device.IsolationNone {
		s.Isolation = req.Isolation
	}
	return s
}

// Percent returns the gantry.dev/<kind>-percent value the share stands for:
// its units on one device, or 100 per device for whole devices.
func (s TemplateShare) Percent() int { return s.Part.Count * s.Part.Units }

// ClaimTemplateName names the ResourceClaimTemplate that asks s:
// "<kind>-<percent>" ("gpu-25", "gpu-200" for two whole GPUs, "npu-50"),
// then "-<isolation>" when a level is required ("gpu-25-mps"), then
// "-m<hash>" when models are constrained (a hash of the sorted model list,
// since model names are not valid in object names). The shipped templates
// of manifests/dra are the unconstrained GPU ones.
func ClaimTemplateName(s TemplateShare) string {
	name := fmt.Sprintf("%s-%d", s.Part.Kind, s.Percent())
	if s.Isolation != "" && s.Isolation != device.IsolationNone {
		name += "-" + string(s.Isolation)
	}
	if len(s.Models) > 0 {
		sum := sha256.Sum256([]byte(strings.Join(sortedModels(s.Models), "|")))
		name += "-m" + hex.EncodeToString(sum[:])[:10]
	}
	return name
}

// ClaimTemplate returns the ResourceClaimTemplate, in namespace, that asks s
// through claims: one exact request named after the kind, of Part.Count
// devices of Gantry's class for the kind, each with Part.Units percent of
// capacity, and CEL selectors on the model and isolation attributes the
// driver publishes for the constraints. The pod keeps its model and
// isolation annotations, which tell the scheduler's policy what the
// selectors tell the allocator.
func ClaimTemplate(namespace string, s TemplateShare) *resourceapi.ResourceClaimTemplate {
	ex := &resourceapi.ExactDeviceRequest{
		DeviceClassName: DeviceClassFor(s.Part.Kind),
		AllocationMode:  resourceapi.DeviceAllocationModeExactCount,
		Count:           int64(s.Part.Count),
		Capacity: &resourceapi.CapacityRequirements{Requests: map[resourceapi.QualifiedName]resource.Quantity{
			contract.DRACapacityPercent: *resource.NewQuantity(int64(s.Part.Units), resource.DecimalSI),
		}},
	}
	if len(s.Models) > 0 {
		quoted := make([]string, 0, len(s.Models))
		for _, m := range sortedModels(s.Models) {
			quoted = append(quoted, strconv.Quote(m))
		}
		ex.Selectors = append(ex.Selectors, resourceapi.DeviceSelector{CEL: &resourceapi.CELDeviceSelector{
			Expression: fmt.Sprintf("device.attributes[%q].%s in [%s]", contract.DRADriver, contract.DRAAttrModel, strings.Join(quoted, ", ")),
		}})
	}
	if s.Isolation != "" && s.Isolation != device.IsolationNone {
		var levels []string
		for _, l := range device.Isolations {
			if l.Satisfies(s.Isolation) {
				levels = append(levels, strconv.Quote(string(l)))
			}
		}
		ex.Selectors = append(ex.Selectors, resourceapi.DeviceSelector{CEL: &resourceapi.CELDeviceSelector{
			Expression: fmt.Sprintf("device.attributes[%q].%s in [%s]", contract.DRADriver, contract.DRAAttrIsolation, strings.Join(levels, ", ")),
		}})
	}
	return &resourceapi.ResourceClaimTemplate{
		TypeMeta: metav1.TypeMeta{APIVersion: resourceapi.SchemeGroupVersion.String(), Kind: "ResourceClaimTemplate"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ClaimTemplateName(s),
			Namespace: namespace,
			Labels:    map[string]string{LabelTemplatePercent: strconv.Itoa(s.Percent())},
		},
		Spec: resourceapi.ResourceClaimTemplateSpec{Spec: resourceapi.ResourceClaimSpec{Devices: resourceapi.DeviceClaim{
			Requests: []resourceapi.DeviceRequest{{Name: string(s.Part.Kind), Exactly: ex}},
		}}},
	}
}

// SameClaimSpec reports whether got asks exactly what want asks, reading
// both as kube-apiserver stores them (an exact request's allocation mode
// defaults to ExactCount and its count to 1). Labels and annotations that
// got gives the claims it creates are not compared.
func SameClaimSpec(want, got resourceapi.ResourceClaimSpec) bool {
	return equality.Semantic.DeepEqual(defaulted(want), defaulted(got))
}

func defaulted(spec resourceapi.ResourceClaimSpec) resourceapi.ResourceClaimSpec {
	out := *spec.DeepCopy()
	for i := range out.Devices.Requests {
		ex := out.Devices.Requests[i].Exactly
		if ex == nil {
			continue
		}
		if ex.AllocationMode == "" {
			ex.AllocationMode = resourceapi.DeviceAllocationModeExactCount
		}
		if ex.AllocationMode == resourceapi.DeviceAllocationModeExactCount && ex.Count == 0 {
			ex.Count = 1
		}
	}
	return out
}

func sortedModels(models []string) []string {
	out := slices.Clone(models)
	slices.Sort(out)
	return slices.Compact(out)
}
