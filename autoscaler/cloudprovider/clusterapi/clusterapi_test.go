package clusterapi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

func TestScaleThroughScaleSubresource(t *testing.T) {
	ctx := context.Background()
	replicas := int32(1)
	md := &clusterv1.MachineDeployment{
		TypeMeta: metav1.TypeMeta{APIVersion: clusterv1.GroupVersion.String(), Kind: "MachineDeployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "gpu-md", Namespace: "capi", Annotations: map[string]string{
			AnnotationTemplateGPUModel: "A100", AnnotationTemplateGPUCount: "4", AnnotationTemplateCPU: "48", AnnotationMaxSize: "5",
		}},
		Spec: clusterv1.MachineDeploymentSpec{ClusterName: "c", Replicas: &replicas},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(md)
	require.NoError(t, err)
	newMachine := func(name, deployment, providerID string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": clusterv1.GroupVersion.String(), "kind": "Machine",
			"metadata": map[string]any{"name": name, "namespace": "capi", "labels": map[string]any{clusterv1.MachineDeploymentNameLabel: deployment}},
			"spec":     map[string]any{"providerID": providerID}}}
	}
	machine := newMachine("m1", "gpu-md", "fake://m1")
	other := newMachine("m2", "other-md", "fake://m2")
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{MachineDeployments: "MachineDeploymentList", Machines: "MachineList"},
		&unstructured.Unstructured{Object: obj}, machine, other)
	// The fake tracker has no scale subresource: serve it from spec.replicas.
	client.PrependReactor("get", "machinedeployments", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		return true, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "autoscaling/v1", "kind": "Scale",
			"metadata": map[string]any{"name": "gpu-md", "namespace": "capi"}, "spec": map[string]any{"replicas": int64(replicas)}}}, nil
	})
	var scaledTo []int64
	client.PrependReactor("update", "machinedeployments", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		u := a.(clienttesting.UpdateAction).GetObject().(*unstructured.Unstructured)
		n, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		scaledTo = append(scaledTo, n)
		replicas = int32(n)
		return true, u, nil
	})

	p, err := New(client, []config.NodeGroup{{Name: "gpu", ProviderRef: "capi/gpu-md", MaxSize: 10, Template: config.NodeTemplate{
		CPU: resource.MustParse("8"), Memory: resource.MustParse("64Gi"), Pods: 110}}})
	require.NoError(t, err)
	require.NoError(t, p.Refresh(ctx))
	g := p.NodeGroups()[0]
	assert.Equal(t, 5, g.Config().MaxSize, "max from the CA annotation")
	n, err := g.TemplateNode()
	require.NoError(t, err)
	inv, err := contract.InventoryOf(n)
	require.NoError(t, err)
	assert.Equal(t, 4, inv.Count(device.GPU))
	assert.Equal(t, "48", n.Status.Allocatable.Cpu().String())

	require.NoError(t, g.IncreaseSize(ctx, 3))
	assert.ErrorContains(t, g.IncreaseSize(ctx, 2), "outside 0..5")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{ProviderID: "fake://m1"}}
	owner, err := p.NodeGroupForNode(node)
	require.NoError(t, err)
	require.NotNil(t, owner)
	ids, err := g.Nodes()
	require.NoError(t, err)
	assert.Equal(t, []string{"fake://m1"}, ids)
	// Nodes that only look like the group's are not the provider's: labels
	// and Cluster API annotations on the Node, or a Machine of another
	// MachineDeployment.
	for _, impostor := range []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "labelled", Labels: map[string]string{cloudprovider.LabelNodeGroup: "gpu"}, Annotations: map[string]string{
			clusterv1.MachineAnnotation: "m1", "cluster.x-k8s.io/owner-kind": "MachineSet", "cluster.x-k8s.io/owner-name": "gpu-md-abcde"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other-md"}, Spec: corev1.NodeSpec{ProviderID: "fake://m2"}},
	} {
		owner, err := p.NodeGroupForNode(impostor)
		require.NoError(t, err)
		assert.Nil(t, owner, impostor.Name)
		err = g.DeleteNodes(ctx, []*corev1.Node{impostor})
		assert.True(t, cloudprovider.IsNotOwned(err), "%s: %v", impostor.Name, err)
	}
	assert.Equal(t, []int64{4}, scaledTo, "refused deletions change nothing")
	require.NoError(t, g.DeleteNodes(ctx, []*corev1.Node{node}))
	assert.Equal(t, []int64{4, 3}, scaledTo)
	m, err := client.Resource(Machines).Namespace("capi").Get(ctx, "m1", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, m.GetAnnotations(), AnnotationDeleteMachine)

	md.Annotations[AnnotationTemplateGPUCount] = "1025"
	_, err = fromAnnotations(config.NodeGroup{MaxSize: 1}, md.Annotations)
	assert.ErrorContains(t, err, "gpu-count=1025 is out of range 1..1024")

	_, err = New(client, []config.NodeGroup{{Name: "bad", ProviderRef: "no-namespace"}})
	assert.ErrorContains(t, err, "is not namespace/name")
}
