package dramode

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/dynamic-resource-allocation/resourceclaim"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
)

func percent(v int64) *resourceapi.CapacityRequirements {
	return &resourceapi.CapacityRequirements{Requests: map[resourceapi.QualifiedName]resource.Quantity{contract.DRACapacityPercent: *resource.NewQuantity(v, resource.DecimalSI)}}
}

func TestClaimed(t *testing.T) {
	exact := func(count int64, pct int64, sel ...resourceapi.DeviceSelector) []resourceapi.DeviceRequest {
		return []resourceapi.DeviceRequest{{Name: "gpu", Exactly: &resourceapi.ExactDeviceRequest{DeviceClassName: "gpu.gantry.dev", AllocationMode: resourceapi.DeviceAllocationModeExactCount, Count: count, Capacity: percent(pct), Selectors: sel}}}
	}
	models := resourceapi.DeviceSelector{CEL: &resourceapi.CELDeviceSelector{Expression: `device.attributes["gpu.gantry.dev"].model in ["V100M16", "V100M32"]`}}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want map[string][]resourceapi.DeviceRequest // by container; nil: no claim
	}{
		{name: "share of one card", pod: coretest.MakePod("p").GPUPercent(25).Obj(), want: map[string][]resourceapi.DeviceRequest{"main": exact(1, 25)}},
		{name: "whole cards", pod: coretest.MakePod("p").GPUPercent(300).Obj(), want: map[string][]resourceapi.DeviceRequest{"main": exact(3, 100)}},
		{name: "models as a CEL selector", pod: coretest.MakePod("p").GPUPercent(50).Models("V100M16|V100M32").Obj(), want: map[string][]resourceapi.DeviceRequest{"main": exact(1, 50, models)}},
		{name: "one claim per container", pod: coretest.MakePod("p").GPUPercent(10).Container("side").GPUPercent(100).Obj(),
			want: map[string][]resourceapi.DeviceRequest{"main": exact(1, 10), "side": exact(1, 100)}},
		{name: "no device, no claim", pod: coretest.MakePod("p").Requests(1000, 512).Obj()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.pod.DeepCopy()
			got, claims, err := Claimed(tt.pod)
			require.NoError(t, err)
			if d := cmp.Diff(orig, tt.pod); d != "" {
				t.Fatalf("Claimed changed its input (-before,+after):\n%s", d)
			}
			if tt.want == nil {
				require.Empty(t, claims)
				require.Equal(t, tt.pod, got)
				return
			}
			byContainer := map[string][]resourceapi.DeviceRequest{}
			var objs []*resourceapi.ResourceClaim
			for _, c := range claims {
				byContainer[c.Container] = c.Spec.Devices.Requests
				objs = append(objs, c.ResourceClaim)
				require.Equal(t, "p-gantry-"+c.Container, c.Name)
				require.NoError(t, resourceclaim.IsForPod(got, c.ResourceClaim, false), "the claim is the pod's, as the claim controller makes it")
			}
			if d := cmp.Diff(tt.want, byContainer); d != "" {
				t.Errorf("requests (-want,+got):\n%s", d)
			}
			for i, c := range got.Spec.Containers {
				for _, k := range device.Kinds {
					require.NotContains(t, c.Resources.Limits, contract.ResourceFor(k), "container %d", i)
					require.NotContains(t, c.Resources.Requests, contract.ResourceFor(k), "container %d", i)
				}
				entry := "gantry-" + c.Name
				require.Equal(t, []corev1.ResourceClaim{{Name: entry}}, c.Resources.Claims)
				name, _, err := resourceclaim.Name(got, &got.Spec.ResourceClaims[i])
				require.NoError(t, err)
				require.Equal(t, "p-"+entry, *name, "the pod's status names its claim")
			}
			// What the claims ask reads back, through core/dra, as what the
			// pod asked in device-plugin mode.
			classes := map[string]*resourceapi.DeviceClass{}
			for _, k := range device.Kinds {
				classes[coredra.DeviceClassFor(k)] = DeviceClass(k)
			}
			kindOf := func(class string) (device.Kind, bool) { return contract.KindOfDeviceClass(classes[class]) }
			back, err := coredra.RequestOfPod(got, objs, kindOf)
			require.NoError(t, err)
			dp, err := share.Parse(tt.pod)
			require.NoError(t, err)
			for i := range back.Parts {
				back.Parts[i].Container = strings.TrimSuffix(strings.TrimPrefix(back.Parts[i].Container, "p-gantry-"), "/gpu")
			}
			back.Pod, dp.Pod = "", ""
			if d := cmp.Diff(dp, back); d != "" {
				t.Errorf("request read back (-device-plugin,+dra):\n%s", d)
			}
		})
	}
}

func TestClaimedRejectsMalformed(t *testing.T) {
	_, _, err := Claimed(coretest.MakePod("p").GPUPercent(150).Obj())
	require.ErrorContains(t, err, "pod default/p: ")
	require.ErrorContains(t, err, "gantry.dev/gpu-percent")
}

// The DeviceClasses the simulation uses are the ones the manifests ship.
func TestDeviceClassesAreTheShippedOnes(t *testing.T) {
	f, err := os.Open("../../manifests/dra/deviceclasses.yaml")
	require.NoError(t, err)
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	var got []*resourceapi.DeviceClass
	for {
		var c resourceapi.DeviceClass
		if err := dec.Decode(&c); err != nil {
			break
		}
		c.TypeMeta = DeviceClass(device.GPU).TypeMeta
		got = append(got, &c)
	}
	var want []*resourceapi.DeviceClass
	for _, k := range device.Kinds {
		want = append(want, DeviceClass(k))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("DeviceClasses (-simulation,+manifests):\n%s", d)
	}
}
