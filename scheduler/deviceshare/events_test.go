package deviceshare

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
)

func TestQueueingHints(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	pod := coretest.MakePod("pending").GPUPercent(50).Obj()
	gpu := coretest.MakeNode("n").GPUs("T4", 2, 16384).Obj()
	gpuMore := coretest.MakeNode("n").GPUs("T4", 4, 16384).Obj()
	relabelled := gpu.DeepCopy()
	relabelled.Labels["pool"] = "b"
	heartbeat := gpu.DeepCopy()
	heartbeat.Status.Conditions[0].Message = "still ready"
	cpuOnly := coretest.MakeNode("c").Obj()
	holder := coretest.MakePod("holder").Annotation(contract.AnnotationAllocation, "{}").Obj()
	plain := coretest.MakePod("plain").Obj()

	tests := []struct {
		name     string
		fn       fwk.QueueingHintFn
		old, new interface{}
		want     fwk.QueueingHint
	}{
		{"GPU node added", isSchedulableAfterNodeChange, nil, gpu, fwk.Queue},
		{"CPU-only node added", isSchedulableAfterNodeChange, nil, cpuOnly, fwk.QueueSkip},
		{"node publishes more devices", isSchedulableAfterNodeChange, gpu, gpuMore, fwk.Queue},
		{"node relabelled", isSchedulableAfterNodeChange, gpu, relabelled, fwk.Queue},
		{"heartbeat only", isSchedulableAfterNodeChange, gpu, heartbeat, fwk.QueueSkip},
		{"pod holding devices deleted", isSchedulableAfterPodDeleted, holder, nil, fwk.Queue},
		{"pod without devices deleted", isSchedulableAfterPodDeleted, plain, nil, fwk.QueueSkip},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.fn(logger, pod, tc.old, tc.new)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSignPod(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	newPlugin := func(raw string) *DeviceShare {
		pl, err := New(ctx, &runtime.Unknown{Raw: []byte(raw), ContentType: runtime.ContentTypeJSON}, nil)
		require.NoError(t, err)
		return pl.(*DeviceShare)
	}
	binpack := newPlugin(`{"policy":"Binpack"}`)
	a, st := binpack.SignPod(ctx, coretest.MakePod("a").GPUPercent(30).Obj())
	require.True(t, st.IsSuccess(), st.Message())
	b, _ := binpack.SignPod(ctx, coretest.MakePod("b").GPUPercent(30).Obj())
	c, _ := binpack.SignPod(ctx, coretest.MakePod("c").GPUPercent(40).Obj())
	assert.Equal(t, a, b, "same shape, same signature")
	assert.NotEqual(t, a, c, "another shape, another signature")
	_, st = binpack.SignPod(ctx, coretest.MakePod("cpu").Obj())
	assert.True(t, st.IsSuccess(), "pods without devices are scored by node state alone")

	refused := []struct {
		name string
		pl   *DeviceShare
		pod  *v1.Pod
	}{
		{"replica of a workload", binpack, coretest.MakePod("w").GPUPercent(30).Workload("web").Obj()},
		{"malformed", binpack, coretest.MakePod("bad").GPUPercent(130).Obj()},
		{"learning FGD", newPlugin(`{"policy":"FGD"}`), coretest.MakePod("f").GPUPercent(30).Obj()},
		{"random", newPlugin(`{"policy":"Random"}`), coretest.MakePod("r").GPUPercent(30).Obj()},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			frags, st := tc.pl.SignPod(ctx, tc.pod)
			assert.Nil(t, frags)
			assert.Equal(t, fwk.Unschedulable, st.Code())
		})
	}
	fixed := newPlugin(`{"policy":"FGD","workload":[{"count":1,"percent":30,"weight":1}]}`)
	_, st = fixed.SignPod(ctx, coretest.MakePod("g").GPUPercent(30).Obj())
	assert.True(t, st.IsSuccess(), "FGD with a configured workload is stable")
	noSpread := newPlugin(`{"policy":"Binpack","zoneSpreadWeight":0}`)
	_, st = noSpread.SignPod(ctx, coretest.MakePod("w").GPUPercent(30).Workload("web").Obj())
	assert.True(t, st.IsSuccess(), "without zone spread a replica is scored like any pod")
}

func TestEventsToRegister(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	events, err := (&DeviceShare{}).EventsToRegister(ctx)
	require.NoError(t, err)
	var resources []fwk.EventResource
	for _, e := range events {
		resources = append(resources, e.Event.Resource)
		assert.NotNil(t, e.QueueingHintFn)
	}
	assert.ElementsMatch(t, []fwk.EventResource{fwk.Node, fwk.AssignedPod}, resources)
}
