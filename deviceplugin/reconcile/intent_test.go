package reconcile_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/deviceplugin/reconcile"
)

// An intent on a pod that kubelet admitted without any Gantry device is
// removed (it would otherwise hold cards nobody uses); an intent on a pod
// kubelet has not admitted yet is the scheduler's handoff and stays.
func TestRemovesIntentsKubeletDidNotHonour(t *testing.T) {
	claimAll := pod("claims-all", map[string][2]int{"c0": {0, 100}, "c1": {1, 100}})
	// A CPU-only tenant pod: its containers ask for nothing, but it carries
	// the intent.
	tenant := claimAll.DeepCopy()
	tenant.Name, tenant.UID = "tenant", "uid-tenant"
	for i := range tenant.Spec.Containers {
		tenant.Spec.Containers[i].Resources = corev1.ResourceRequirements{}
	}
	waiting := pod("waiting", map[string][2]int{"c0": {2, 50}})
	k := &kubelet{pods: map[string]map[string][]string{
		"tenant": {"c0": nil, "c1": nil},
	}}
	e := setup(t, k, tenant, waiting)
	res, err := e.rec.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, reconcile.Result{Removed: 1}, res)

	got, err := e.client.CoreV1().Pods("default").Get(context.Background(), "tenant", metav1.GetOptions{})
	require.NoError(t, err)
	_, has := got.Annotations[contract.AnnotationAllocation]
	require.False(t, has, "the forged intent is gone")
	got, err = e.client.CoreV1().Pods("default").Get(context.Background(), "waiting", metav1.GetOptions{})
	require.NoError(t, err)
	_, has = got.Annotations[contract.AnnotationAllocation]
	require.True(t, has, "a pod kubelet has not admitted keeps its intent")

	var events []string
	for len(e.events.Events) > 0 {
		events = append(events, <-e.events.Events)
	}
	require.Len(t, events, 1)
	require.True(t, strings.Contains(events[0], reconcile.ReasonIntentRemoved), events[0])
}
