package kwok

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

func TestScaleUpAndDown(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	g := config.NodeGroup{Name: "t4", MaxSize: 3, Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: "T4", Count: 2, MemoryMiB: 16384},
		CPU:    resource.MustParse("8"), Memory: resource.MustParse("32Gi"), Pods: 110,
	}}
	p := New(client, []config.NodeGroup{g})
	require.NoError(t, p.Refresh(ctx))
	grp := p.NodeGroups()[0]
	require.NoError(t, grp.IncreaseSize(ctx, 2))
	assert.ErrorContains(t, grp.IncreaseSize(ctx, 2), "above max 3")
	l, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, l.Items, 2)
	n := l.Items[0]
	assert.Equal(t, "fake", n.Annotations[AnnotationNode])
	_, err = contract.InventoryOf(&n)
	require.NoError(t, err)
	owner, err := p.NodeGroupForNode(&n)
	require.NoError(t, err)
	assert.Equal(t, "t4", owner.Id())

	require.NoError(t, p.Refresh(ctx))
	size, _ := grp.TargetSize()
	assert.Equal(t, 2, size)
	require.NoError(t, grp.DeleteNodes(ctx, []*corev1.Node{&n}))
	require.NoError(t, p.Refresh(ctx))
	size, _ = grp.TargetSize()
	assert.Equal(t, 1, size)
}
