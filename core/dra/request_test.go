package dra_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/dra/dratest"
	"github.com/gantry-dev/gantry/core/share"
)

func gantryClasses(class string) (device.Kind, bool) {
	switch class {
	case "gpu.gantry.dev":
		return device.GPU, true
	case "npu.gantry.dev":
		return device.NPU, true
	}
	return "", false
}

func TestRequestOf(t *testing.T) {
	memOnly := dratest.MakeClaim("ns", "mem").Share("r", "gpu.gantry.dev", 0).Obj()
	memOnly.Spec.Devices.Requests[0].Exactly.Capacity = &resourceapi.CapacityRequirements{Requests: map[resourceapi.QualifiedName]resource.Quantity{"memory": resource.MustParse("10Gi")}}
	oddCap := dratest.MakeClaim("ns", "odd").Share("r", "gpu.gantry.dev", 0).Obj()
	oddCap.Spec.Devices.Requests[0].Exactly.Capacity = &resourceapi.CapacityRequirements{Requests: map[resourceapi.QualifiedName]resource.Quantity{"cores": resource.MustParse("2")}}
	all := dratest.MakeClaim("ns", "all").Share("r", "gpu.gantry.dev", 0).Obj()
	all.Spec.Devices.Requests[0].Exactly.AllocationMode = resourceapi.DeviceAllocationModeAll
	prioritized := &resourceapi.ResourceClaim{}
	prioritized.Name = "fa"
	prioritized.Spec.Devices.Requests = []resourceapi.DeviceRequest{{Name: "r", FirstAvailable: []resourceapi.DeviceSubRequest{{Name: "a", DeviceClassName: "gpu.gantry.dev"}}}}

	tests := []struct {
		name   string
		claims []*resourceapi.ResourceClaim
		want   []share.Part
		err    string
	}{
		{
			name: "shares and whole devices, largest first",
			claims: []*resourceapi.ResourceClaim{
				dratest.MakeClaim("ns", "small").Share("r", "gpu.gantry.dev", 30).Obj(),
				dratest.MakeClaim("ns", "two").Request("r", "npu.gantry.dev", 2, 0).Obj(),
				dratest.MakeClaim("ns", "whole").Share("r", "gpu.gantry.dev", 0).Obj(),
			},
			want: []share.Part{
				{Container: "two/r", Kind: device.NPU, Count: 2, Units: 100},
				{Container: "whole/r", Kind: device.GPU, Count: 1, Units: 100},
				{Container: "small/r", Kind: device.GPU, Count: 1, Units: 30},
			},
		},
		{
			name: "other classes, allocated claims, all-devices and prioritized lists are the allocator's",
			claims: []*resourceapi.ResourceClaim{
				dratest.MakeClaim("ns", "other").Share("r", "nic.example.com", 30).Obj(),
				dratest.MakeClaim("ns", "done").Share("r", "gpu.gantry.dev", 30).Gantry("n1", "r", "gpu-0", 30).Obj(),
				all, prioritized, nil,
			},
		},
		{
			name:   "memory alone asks a whole card's share",
			claims: []*resourceapi.ResourceClaim{memOnly},
			want:   []share.Part{{Container: "mem/r", Kind: device.GPU, Count: 1, Units: 100}},
		},
		{
			name:   "more than 100 percent",
			claims: []*resourceapi.ResourceClaim{dratest.MakeClaim("ns", "big").Share("r", "gpu.gantry.dev", 150).Obj()},
			err:    `ResourceClaim ns/big, request "r": asks 150 of capacity "percent" of class gpu.gantry.dev; a Gantry share is 1..100 percent of one device (ask count for more devices)`,
		},
		{
			name:   "negative percent",
			claims: []*resourceapi.ResourceClaim{dratest.MakeClaim("ns", "neg").Share("r", "gpu.gantry.dev", -5).Obj()},
			err:    `ResourceClaim ns/neg, request "r": asks -5 of capacity "percent" of class gpu.gantry.dev; a Gantry share is 1..100 percent of one device (ask count for more devices)`,
		},
		{
			name:   "unknown capacity",
			claims: []*resourceapi.ResourceClaim{oddCap},
			err:    `ResourceClaim ns/odd, request "r": asks capacity "cores", which Gantry devices do not have (they have "percent" and "memory")`,
		},
		{
			name:   "too many devices",
			claims: []*resourceapi.ResourceClaim{dratest.MakeClaim("ns", "many").Request("r", "gpu.gantry.dev", 5000, 0).Obj()},
			err:    `ResourceClaim ns/many, request "r": count 5000 outside 1..1024`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := dra.RequestOf("ns/p", tc.claims, gantryClasses)
			if tc.err != "" {
				var ice *dra.InvalidClaimError
				require.True(t, errors.As(err, &ice), "got %v", err)
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "ns/p", req.Pod)
			if diff := cmp.Diff(tc.want, req.Parts); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestOfPod(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Labels: map[string]string{contract.LabelWorkload: "web"}, Annotations: map[string]string{
			contract.AnnotationGPUModels: "V100M16|V100M32", contract.AnnotationAllowSharedDevice: "true",
			contract.AnnotationNPUModels: "Ascend910B", // the pod asks no NPU: ignored
		}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("2Gi")}}},
			{Name: "b", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}},
		}},
	}
	claims := []*resourceapi.ResourceClaim{dratest.MakeClaim("ns", "c").Share("r", "gpu.gantry.dev", 40).Obj()}
	req, err := dra.RequestOfPod(pod, claims, gantryClasses)
	require.NoError(t, err)
	want := &share.Request{
		Pod: "ns/p", Parts: []share.Part{{Container: "c/r", Kind: device.GPU, Count: 1, Units: 40}},
		Models: map[device.Kind][]string{device.GPU: {"V100M16", "V100M32"}}, CPUMilli: 2000, MemoryMiB: 2048,
		Workload: "ns/web", AllowSharedDevice: true,
	}
	if diff := cmp.Diff(want, req); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}

	pod.Annotations[contract.AnnotationGPUModels] = "V100|"
	_, err = dra.RequestOfPod(pod, claims, gantryClasses)
	var ice *dra.InvalidClaimError
	require.True(t, errors.As(err, &ice), "got %v", err)
}
