package dra_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
)

func TestClaimTemplate(t *testing.T) {
	exact := func(class string, count, percent int64, cel ...string) *resourceapi.ExactDeviceRequest {
		ex := &resourceapi.ExactDeviceRequest{DeviceClassName: class, AllocationMode: resourceapi.DeviceAllocationModeExactCount, Count: count,
			Capacity: &resourceapi.CapacityRequirements{Requests: map[resourceapi.QualifiedName]resource.Quantity{
				contract.DRACapacityPercent: *resource.NewQuantity(percent, resource.DecimalSI)}}}
		for _, e := range cel {
			ex.Selectors = append(ex.Selectors, resourceapi.DeviceSelector{CEL: &resourceapi.CELDeviceSelector{Expression: e}})
		}
		return ex
	}
	tests := []struct {
		name     string
		share    dra.TemplateShare
		wantName string
		label    string
		request  resourceapi.DeviceRequest
	}{
		{name: "a quarter of a GPU", share: dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}},
			wantName: "gpu-25", label: "25", request: resourceapi.DeviceRequest{Name: "gpu", Exactly: exact("gpu.gantry.dev", 1, 25)}},
		{name: "two whole GPUs", share: dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 2, Units: 100}},
			wantName: "gpu-200", label: "200", request: resourceapi.DeviceRequest{Name: "gpu", Exactly: exact("gpu.gantry.dev", 2, 100)}},
		{name: "half an NPU", share: dra.TemplateShare{Part: share.Part{Kind: device.NPU, Count: 1, Units: 50}},
			wantName: "npu-50", label: "50", request: resourceapi.DeviceRequest{Name: "npu", Exactly: exact("npu.gantry.dev", 1, 50)}},
		{name: "an odd size", share: dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 47}},
			wantName: "gpu-47", label: "47", request: resourceapi.DeviceRequest{Name: "gpu", Exactly: exact("gpu.gantry.dev", 1, 47)}},
		{name: "models, sorted and deduplicated", share: dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 47}, Models: []string{"V100M32", "V100M16", "V100M32"}},
			wantName: "gpu-47-m" + modelHash(t, "V100M16", "V100M32"), label: "47",
			request: resourceapi.DeviceRequest{Name: "gpu", Exactly: exact("gpu.gantry.dev", 1, 47, `device.attributes["gpu.gantry.dev"].model in ["V100M16", "V100M32"]`)}},
		{name: "MPS", share: dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 30}, Isolation: device.IsolationMPS},
			wantName: "gpu-30-mps", label: "30",
			request: resourceapi.DeviceRequest{Name: "gpu", Exactly: exact("gpu.gantry.dev", 1, 30, `device.attributes["gpu.gantry.dev"].isolation in ["mps"]`)}},
		{name: "MIG and a model", share: dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 100}, Models: []string{"A100"}, Isolation: device.IsolationMIG},
			wantName: "gpu-100-mig-m" + modelHash(t, "A100"), label: "100",
			request: resourceapi.DeviceRequest{Name: "gpu", Exactly: exact("gpu.gantry.dev", 1, 100,
				`device.attributes["gpu.gantry.dev"].model in ["A100"]`, `device.attributes["gpu.gantry.dev"].isolation in ["mig"]`)}},
		{name: "isolation none asks nothing more", share: dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 10}, Isolation: device.IsolationNone},
			wantName: "gpu-10", label: "10", request: resourceapi.DeviceRequest{Name: "gpu", Exactly: exact("gpu.gantry.dev", 1, 10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := &resourceapi.ResourceClaimTemplate{
				TypeMeta:   metav1.TypeMeta{APIVersion: "resource.k8s.io/v1", Kind: "ResourceClaimTemplate"},
				ObjectMeta: metav1.ObjectMeta{Name: tt.wantName, Namespace: "team-a", Labels: map[string]string{"gantry.dev/percent": tt.label}},
				Spec: resourceapi.ResourceClaimTemplateSpec{Spec: resourceapi.ResourceClaimSpec{Devices: resourceapi.DeviceClaim{
					Requests: []resourceapi.DeviceRequest{tt.request}}}},
			}
			got := dra.ClaimTemplate("team-a", tt.share)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("template (-want,+got):\n%s", diff)
			}
			assert.Equal(t, tt.wantName, dra.ClaimTemplateName(tt.share))

			// What the template asks reads back, through RequestOf, as the
			// share it was made for.
			claim := &resourceapi.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "c"}, Spec: got.Spec.Spec}
			req, err := dra.RequestOf("team-a/p", []*resourceapi.ResourceClaim{claim}, gantryClasses)
			require.NoError(t, err)
			wantPart := tt.share.Part
			wantPart.Container = "c/" + string(wantPart.Kind)
			if diff := cmp.Diff([]share.Part{wantPart}, req.Parts); diff != "" {
				t.Errorf("parts (-want,+got):\n%s", diff)
			}
		})
	}
}

func modelHash(t *testing.T, models ...string) string {
	t.Helper()
	name := dra.ClaimTemplateName(dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 1}, Models: models})
	require.Len(t, name, len("gpu-1-m")+10)
	return name[len("gpu-1-m"):]
}

func TestClaimTemplateNamesTellSharesApart(t *testing.T) {
	seen := map[string]dra.TemplateShare{}
	for _, s := range []dra.TemplateShare{
		{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}},
		{Part: share.Part{Kind: device.NPU, Count: 1, Units: 25}},
		{Part: share.Part{Kind: device.GPU, Count: 2, Units: 100}},
		{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}, Isolation: device.IsolationMPS},
		{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}, Isolation: device.IsolationMIG},
		{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}, Models: []string{"A100"}},
		{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}, Models: []string{"a100"}},
		{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}, Models: []string{"A100", "T4"}},
	} {
		name := dra.ClaimTemplateName(s)
		if prev, dup := seen[name]; dup {
			t.Errorf("%q names both %+v and %+v", name, prev, s)
		}
		seen[name] = s
	}
	assert.Equal(t, dra.ClaimTemplateName(dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}, Models: []string{"T4", "A100"}}),
		dra.ClaimTemplateName(dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}, Models: []string{"A100", "T4"}}),
		"the order of a model list does not matter")
}

func TestSameClaimSpec(t *testing.T) {
	want := dra.ClaimTemplate("ns", dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 25}}).Spec.Spec
	stored := want.DeepCopy()
	stored.Devices.Requests[0].Exactly.AllocationMode = ""
	stored.Devices.Requests[0].Exactly.Count = 0
	assert.True(t, dra.SameClaimSpec(want, *stored), "defaults left out ask the same")

	for name, edit := range map[string]func(s *resourceapi.ResourceClaimSpec){
		"another percent": func(s *resourceapi.ResourceClaimSpec) {
			s.Devices.Requests[0].Exactly.Capacity.Requests[contract.DRACapacityPercent] = resource.MustParse("50")
		},
		"another class": func(s *resourceapi.ResourceClaimSpec) { s.Devices.Requests[0].Exactly.DeviceClassName = "other" },
		"two devices":   func(s *resourceapi.ResourceClaimSpec) { s.Devices.Requests[0].Exactly.Count = 2 },
		"a selector": func(s *resourceapi.ResourceClaimSpec) {
			s.Devices.Requests[0].Exactly.Selectors = []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{Expression: "true"}}}
		},
		"another request": func(s *resourceapi.ResourceClaimSpec) {
			s.Devices.Requests = append(s.Devices.Requests, resourceapi.DeviceRequest{Name: "nic", Exactly: &resourceapi.ExactDeviceRequest{DeviceClassName: "nic"}})
		},
	} {
		got := want.DeepCopy()
		edit(got)
		assert.False(t, dra.SameClaimSpec(want, *got), name)
	}
}
