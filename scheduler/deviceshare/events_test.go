package deviceshare

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
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

func TestSignPodRefusesBatching(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	pl := &DeviceShare{}
	for _, pod := range []*v1.Pod{
		coretest.MakePod("cpu").Obj(),
		coretest.MakePod("gpu").GPUPercent(30).Obj(),
		coretest.MakePod("bad").GPUPercent(130).Obj(),
	} {
		frags, st := pl.SignPod(ctx, pod)
		assert.Nil(t, frags)
		assert.Equal(t, fwk.Unschedulable, st.Code(), "pod %s must not be batched", pod.Name)
	}
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
