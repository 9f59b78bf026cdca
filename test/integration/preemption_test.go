package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gantry-dev/gantry/core/coretest"
)

// TestPreemptionFreesACard: a higher-priority share that fits no card
// preempts the lower-priority pod holding one, card by card. The plugin
// reads device state from the NodeInfo the framework passes, so
// preemption's what-if (victims removed) is what Filter sees.
func TestPreemptionFreesACard(t *testing.T) {
	e := startEnv(t, "Binpack")
	ctx := context.Background()
	_, err := e.client.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{
		ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000,
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	e.createNodes(t, coretest.MakeNode("one-card").GPUs("T4", 1, 16384).Obj())

	zero := int64(0)
	low := coretest.MakePod("low").GPUPercent(70).Obj()
	low.Spec.TerminationGracePeriodSeconds = &zero
	e.createPod(t, low)
	e.waitBound(t, "default", "low", 30*time.Second)

	// 50% fits next to 70% on no card: only evicting "low" helps.
	high := coretest.MakePod("high").GPUPercent(50).Obj()
	high.Spec.PriorityClassName = "high"
	high.Spec.TerminationGracePeriodSeconds = &zero
	e.createPod(t, high)
	got := e.waitBound(t, "default", "high", 60*time.Second)
	assert.Equal(t, "one-card", got.Spec.NodeName)
	assert.Equal(t, 50, allocationOf(t, got).Containers[0].Devices[0].Units)
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := e.client.CoreV1().Pods("default").Get(ctx, "low", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	require.NoError(t, err, "the lower-priority holder was not preempted")

	// A pod that asks for a model the node lacks is unresolvable: it must
	// not preempt anything.
	keep := coretest.MakePod("keep").GPUPercent(40).Obj()
	keep.Spec.TerminationGracePeriodSeconds = &zero
	e.createPod(t, keep)
	e.waitBound(t, "default", "keep", 30*time.Second)
	wrong := coretest.MakePod("wrong-model").GPUPercent(100).Models("A100").Obj()
	wrong.Spec.PriorityClassName = "high"
	e.createPod(t, wrong)
	e.waitEvent(t, "default", "wrong-model", 30*time.Second)
	time.Sleep(2 * time.Second)
	_, err = e.client.CoreV1().Pods("default").Get(ctx, "keep", metav1.GetOptions{})
	assert.NoError(t, err, "an unresolvable pod must not preempt")
}
