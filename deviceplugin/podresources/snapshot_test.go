package podresources_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/podresources"
)

func TestAdmitting(t *testing.T) {
	gpu := contract.ResourceGPUPercent
	container := func(name string, percent int64) corev1.Container {
		return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{gpu: *resource.NewQuantity(percent, resource.DecimalSI)}}}
	}
	pod := func(name string, cs ...corev1.Container) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.PodSpec{Containers: cs}}
	}
	held := func(name string) *podresourcesv1.ContainerResources {
		return &podresourcesv1.ContainerResources{Name: name, Devices: []*podresourcesv1.ContainerDevices{
			{ResourceName: string(gpu), DeviceIds: []string{contract.SlotID("GPU-0", 0)}}}}
	}
	snap := podresources.NewSnapshot(&podresourcesv1.ListPodResourcesResponse{PodResources: []*podresourcesv1.PodResources{
		{Namespace: "default", Name: "half", Containers: []*podresourcesv1.ContainerResources{held("c0"), {Name: "c1"}}},
		{Namespace: "default", Name: "full", Containers: []*podresourcesv1.ContainerResources{held("c0"), held("c1")}},
	}})
	tests := []struct {
		name string
		pod  *corev1.Pod
		res  []corev1.ResourceName
		want bool
	}{
		{name: "a container asking holds nothing yet", pod: pod("half", container("c0", 1), container("c1", 1)), res: []corev1.ResourceName{gpu}, want: true},
		{name: "every container asking holds something", pod: pod("full", container("c0", 1), container("c1", 1)), res: []corev1.ResourceName{gpu}},
		{name: "the empty container asks for nothing", pod: pod("half", container("c0", 1), corev1.Container{Name: "c1"}), res: []corev1.ResourceName{gpu}},
		{name: "another resource is not looked at", pod: pod("half", container("c0", 1), container("c1", 1)), res: []corev1.ResourceName{contract.ResourceFor(device.NPU)}},
		{name: "not listed", pod: pod("absent", container("c0", 1)), res: []corev1.ResourceName{gpu}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, snap.Admitting(tt.pod, tt.res...))
		})
	}
}

func TestHeld(t *testing.T) {
	gpu, npu := string(contract.ResourceGPUPercent), string(contract.ResourceFor(device.NPU))
	slots := func(dev string, from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, contract.SlotID(dev, i))
		}
		return out
	}
	devs := func(res string, ids ...string) *podresourcesv1.ContainerDevices {
		return &podresourcesv1.ContainerDevices{ResourceName: res, DeviceIds: ids}
	}
	tests := []struct {
		name string
		pods []*podresourcesv1.PodResources
		want map[string]int
	}{
		{name: "nothing listed", want: map[string]int{}},
		{name: "shares of one card add up across pods and containers", pods: []*podresourcesv1.PodResources{
			{Namespace: "a", Name: "p", Containers: []*podresourcesv1.ContainerResources{
				{Name: "c0", Devices: []*podresourcesv1.ContainerDevices{devs(gpu, slots("GPU-0", 0, 30)...)}},
				{Name: "c1", Devices: []*podresourcesv1.ContainerDevices{devs(gpu, slots("GPU-0", 30, 40)...)}},
			}},
			{Namespace: "b", Name: "p", Containers: []*podresourcesv1.ContainerResources{
				{Name: "c0", Devices: []*podresourcesv1.ContainerDevices{devs(gpu, slots("GPU-0", 40, 65)...)}},
			}},
		}, want: map[string]int{"GPU-0": 65}},
		{name: "whole cards, an NPU, and other resources left out", pods: []*podresourcesv1.PodResources{
			{Namespace: "a", Name: "p", Containers: []*podresourcesv1.ContainerResources{
				{Name: "c0", Devices: []*podresourcesv1.ContainerDevices{devs(gpu, append(slots("GPU-1", 0, 100), slots("GPU-2", 0, 100)...)...),
					devs(npu, slots("NPU-0", 0, 5)...), devs("example.com/nic", "nic-0::1")}},
			}},
		}, want: map[string]int{"GPU-1": 100, "GPU-2": 100, "NPU-0": 5}},
		{name: "a slot listed once per NUMA node and in two containers counts once", pods: []*podresourcesv1.PodResources{
			{Namespace: "a", Name: "p", Containers: []*podresourcesv1.ContainerResources{
				{Name: "c0", Devices: []*podresourcesv1.ContainerDevices{devs(gpu, slots("GPU-0", 0, 10)...), devs(gpu, slots("GPU-0", 0, 10)...)}},
				{Name: "c1", Devices: []*podresourcesv1.ContainerDevices{devs(gpu, slots("GPU-0", 5, 10)...)}},
			}},
		}, want: map[string]int{"GPU-0": 10}},
		{name: "IDs that are not slot IDs", pods: []*podresourcesv1.PodResources{
			{Namespace: "a", Name: "p", Containers: []*podresourcesv1.ContainerResources{
				{Name: "c0", Devices: []*podresourcesv1.ContainerDevices{devs(gpu, "GPU-0", "GPU-0::x", "GPU-0::100", contract.SlotID("GPU-0", 99))}},
			}},
		}, want: map[string]int{"GPU-0": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := podresources.NewSnapshot(&podresourcesv1.ListPodResourcesResponse{PodResources: tt.pods}).Held()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Held (-want,+got):\n%s", diff)
			}
		})
	}
}
