package deviceshare

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/defaultbinder"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/queuesort"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	tf "k8s.io/kubernetes/pkg/scheduler/testing/framework"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
)

// With writeAllocation: Bind, the plugin binds a pod that reserved devices
// with the allocation in the Binding's annotations and skips PreBind; a pod
// without devices is left to DefaultBinder.
func TestBindCarriesTheAllocation(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	node := coretest.MakeNode("n").GPUs("T4", 1, 16384).Obj()
	gpuPod := coretest.MakePod("gpu").GPUPercent(30).Obj()
	cpuPod := coretest.MakePod("cpu").Obj()
	client := fake.NewSimpleClientset(gpuPod, cpuPod)
	var bindings []*v1.Binding
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		bindings = append(bindings, a.(clienttesting.CreateAction).GetObject().(*v1.Binding))
		return true, nil, nil
	})
	args := &runtime.Unknown{Raw: []byte(`{"policy":"Binpack","writeAllocation":"Bind"}`), ContentType: runtime.ContentTypeJSON}
	fh, err := tf.NewFramework(ctx, []tf.RegisterPluginFunc{
		tf.RegisterQueueSortPlugin(queuesort.Name, queuesort.New),
		tf.RegisterPluginAsExtensions(Name, func(ctx context.Context, _ runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			return New(ctx, args, h)
		}, "PreFilter", "Filter", "Reserve", "PreBind", "Bind"),
		tf.RegisterBindPlugin(defaultbinder.Name, defaultbinder.New),
	}, "gantry-scheduler", frameworkruntime.WithSnapshotSharedLister(cache.NewSnapshot(nil, []*v1.Node{node})), frameworkruntime.WithClientSet(client))
	require.NoError(t, err)

	for _, pod := range []*v1.Pod{gpuPod, cpuPod} {
		cs := framework.NewCycleState()
		_, st, _ := fh.RunPreFilterPlugins(ctx, cs, pod)
		require.True(t, st.IsSuccess() || st.IsSkip(), st.Message())
		require.True(t, fh.RunReservePluginsReserve(ctx, cs, pod, "n").IsSuccess())
		require.True(t, fh.RunPreBindPlugins(ctx, cs, pod, "n").IsSuccess())
		require.True(t, fh.RunBindPlugins(ctx, cs, pod, "n").IsSuccess())
	}
	require.Len(t, bindings, 2)
	a, err := contract.DecodeAllocation(bindings[0].Annotations[contract.AnnotationAllocation])
	require.NoError(t, err)
	assert.Equal(t, "n", bindings[0].Target.Name)
	assert.Equal(t, 30, a.Containers[0].Devices[0].Units)
	assert.Empty(t, bindings[1].Annotations, "the CPU-only pod was bound by DefaultBinder")
	for _, act := range client.Actions() {
		assert.NotEqual(t, "patch", act.GetVerb(), "PreBind must not patch when Bind writes")
	}
}
