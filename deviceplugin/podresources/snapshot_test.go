package podresources_test

import (
	"testing"

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
