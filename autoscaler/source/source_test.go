package source

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestUnmarkToBeDeleted(t *testing.T) {
	other := corev1.Taint{Key: "other", Effect: corev1.TaintEffectNoSchedule}
	node := func() *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{other}}}
	}
	type src interface {
		Source
		Unmarker
	}
	tests := []struct {
		name string
		src  func() src
	}{
		{name: "memory", src: func() src {
			m := NewMemory()
			m.AddNode(node())
			return m
		}},
		{name: "client", src: func() src { return startClient(t, k8sfake.NewClientset(node())) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := tt.src()
			// get waits until the source's view (the client's cache
			// follows the server's watch) shows marked.
			get := func(marked bool) *corev1.Node {
				var n *corev1.Node
				require.Eventually(t, func() bool {
					nodes, err := s.Nodes(ctx)
					require.NoError(t, err)
					require.Len(t, nodes, 1)
					n = nodes[0]
					return HasToBeDeleted(n) == marked
				}, 5*time.Second, 10*time.Millisecond)
				return n
			}
			require.NoError(t, s.MarkToBeDeleted(ctx, "n"))
			assert.True(t, get(true).Spec.Unschedulable)
			require.NoError(t, s.UnmarkToBeDeleted(ctx, "n"))
			n := get(false)
			assert.False(t, n.Spec.Unschedulable)
			assert.Equal(t, []corev1.Taint{other}, n.Spec.Taints, "other taints stay")
			assert.Error(t, s.UnmarkToBeDeleted(ctx, "missing"))
		})
	}
}

// startClient returns a Client over client with its caches synced; the
// informers stop with the test.
func startClient(t *testing.T, client kubernetes.Interface) *Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := NewInformerFactory(client)
	c := NewClient(client, f)
	require.NoError(t, StartInformers(ctx, f))
	t.Cleanup(func() {
		cancel()
		f.Shutdown()
	})
	return c
}

func TestPDBMatches(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", Labels: map[string]string{"app": "x"}}}
	pdb := func(ns string, sel *metav1.LabelSelector) *policyv1.PodDisruptionBudget {
		return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"}, Spec: policyv1.PodDisruptionBudgetSpec{Selector: sel}}
	}
	tests := []struct {
		name string
		pdb  *policyv1.PodDisruptionBudget
		want bool
	}{
		{"empty selector matches every pod of the namespace", pdb("a", &metav1.LabelSelector{}), true},
		{"empty selector, other namespace", pdb("b", &metav1.LabelSelector{}), false},
		{"no selector matches none", pdb("a", nil), false},
		{"matching labels", pdb("a", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}), true},
		{"other labels", pdb("a", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "y"}}), false},
		{"unparsable selector guards every pod", pdb("a", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, PDBMatches(tt.pdb, pod))
		})
	}
}

func TestClientEvict(t *testing.T) {
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", UID: "u1"}}
	client := k8sfake.NewClientset(pod.DeepCopy())
	refuse := true
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		if refuse {
			return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
		}
		ev := a.(clienttesting.CreateAction).GetObject().(*policyv1.Eviction)
		if ev.DeleteOptions == nil || ev.DeleteOptions.Preconditions == nil || *ev.DeleteOptions.Preconditions.UID != "u1" {
			return true, nil, apierrors.NewBadRequest("eviction without the pod's UID precondition")
		}
		return true, nil, client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "a", "p")
	})
	c := startClient(t, client)
	err := c.Evict(ctx, pod)
	require.Error(t, err)
	assert.True(t, IsEvictionRefused(err), "%v", err)
	gone, err := c.PodGone(ctx, pod)
	require.NoError(t, err)
	assert.False(t, gone)

	refuse = false
	require.NoError(t, c.Evict(ctx, pod))
	require.Eventually(t, func() bool {
		gone, err := c.PodGone(ctx, pod)
		require.NoError(t, err)
		return gone
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, c.Evict(ctx, pod), "a pod already gone is no error")

	// A pod recreated under the same name (a StatefulSet's) is another pod.
	_, err = client.CoreV1().Pods("a").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "p", UID: "u2"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		l, err := c.Pods(ctx)
		require.NoError(t, err)
		return len(l) == 1
	}, 5*time.Second, 10*time.Millisecond)
	gone, err = c.PodGone(ctx, pod)
	require.NoError(t, err)
	assert.True(t, gone, "the evicted pod (UID u1) is gone though a pod p (UID u2) exists")
}

func TestMemoryEvictHonoursPDBs(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	for _, name := range []string{"p1", "p2"} {
		m.AddPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name}})
	}
	// An empty selector covers both pods; one disruption is allowed.
	m.AddPDB(&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "all"},
		Spec:   policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{}},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}})
	pods, err := m.Pods(ctx)
	require.NoError(t, err)
	require.NoError(t, m.Evict(ctx, pods[0]))
	err = m.Evict(ctx, pods[1])
	assert.True(t, IsEvictionRefused(err), "%v", err)
	assert.Equal(t, []string{"a/p1"}, m.Evicted())
}
