package kwok

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

func TestScaleUpAndDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Someone else's node carries the group's label (and even KWOK's
	// annotation) but not this provider's creation record.
	impostor := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real-gpu-node", UID: "u1",
		Labels:      map[string]string{cloudprovider.LabelNodeGroup: "t4"},
		Annotations: map[string]string{AnnotationNode: "fake"}}}
	client := fake.NewClientset(impostor)
	factory := informers.NewSharedInformerFactory(client, 0)
	lister := factory.Core().V1().Nodes().Lister()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	g := config.NodeGroup{Name: "t4", MaxSize: 3, Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: "T4", Count: 2, MemoryMiB: 16384},
		CPU:    resource.MustParse("8"), Memory: resource.MustParse("32Gi"), Pods: 110,
	}}
	p := New(client, lister, []config.NodeGroup{g})
	refresh := func(want int) {
		t.Helper()
		// The lister follows the fake client's watch.
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
			l, err := lister.List(labels.Everything())
			return err == nil && len(l) == want+1, nil
		}))
		require.NoError(t, p.Refresh(ctx))
	}
	refresh(0)
	grp := p.NodeGroups()[0]
	size, _ := grp.TargetSize()
	assert.Equal(t, 0, size, "a labelled node the provider did not create is not counted")
	owner, err := p.NodeGroupForNode(impostor)
	require.NoError(t, err)
	assert.Nil(t, owner, "the label alone does not make a node the provider's")
	err = grp.DeleteNodes(ctx, []*corev1.Node{impostor})
	assert.True(t, cloudprovider.IsNotOwned(err), "%v", err)
	_, err = client.CoreV1().Nodes().Get(ctx, impostor.Name, metav1.GetOptions{})
	require.NoError(t, err, "the impostor survives")

	require.NoError(t, grp.IncreaseSize(ctx, 2))
	assert.ErrorContains(t, grp.IncreaseSize(ctx, 2), "above max 3")
	l, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, l.Items, 3)
	var n corev1.Node
	for _, x := range l.Items {
		if x.Name != impostor.Name {
			n = x
		}
	}
	assert.Equal(t, "fake", n.Annotations[AnnotationNode])
	assert.Equal(t, "t4", n.Annotations[AnnotationOwner])
	_, err = contract.InventoryOf(&n)
	require.NoError(t, err)
	owner, err = p.NodeGroupForNode(&n)
	require.NoError(t, err)
	assert.Equal(t, "t4", owner.Id())

	refresh(2)
	size, _ = grp.TargetSize()
	assert.Equal(t, 2, size)
	require.NoError(t, grp.DeleteNodes(ctx, []*corev1.Node{&n}))
	refresh(1)
	size, _ = grp.TargetSize()
	assert.Equal(t, 1, size)
}
