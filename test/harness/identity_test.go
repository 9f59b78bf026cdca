package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gantry-dev/gantry/test/harness"
)

const rbacManifest = `
apiVersion: v1
kind: ServiceAccount
metadata:
  name: agent
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: harness-node-reader
rules:
  - apiGroups: [""]
    resources: ["nodes"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: harness-node-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: harness-node-reader
subjects:
  - kind: ServiceAccount
    name: agent
    namespace: default
`

// TestIdentities checks the identities tests run as: a real service-account
// token (bound to a pod on a node, so it carries the node claim), an
// impersonated user with extra info, and manifests applied twice (apply is
// idempotent) granting exactly what they say.
func TestIdentities(t *testing.T) {
	cp := harness.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	objs, err := harness.DecodeManifests([]byte(rbacManifest))
	require.NoError(t, err)
	require.Len(t, objs, 3)
	require.NoError(t, cp.Apply(ctx, objs...))
	require.NoError(t, cp.Apply(ctx, objs...), "second apply")

	_, err = harness.CreateReadyNode(ctx, cp.Client, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	require.NoError(t, err)
	pod, err := cp.Client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-n1", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:           "n1",
			ServiceAccountName: "agent",
			Containers:         []corev1.Container{{Name: "c", Image: "agent"}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	t.Run("pod-bound token", func(t *testing.T) {
		cfg, err := cp.ServiceAccountConfig(ctx, "default", "agent", harness.BoundToPod(pod))
		require.NoError(t, err)
		who, err := harness.WhoAmI(ctx, cfg)
		require.NoError(t, err)
		require.Equal(t, harness.ServiceAccountUser("default", "agent"), who.Username)
		require.Equal(t, []string{"n1"}, []string(who.Extra[harness.ExtraNodeName]))

		client, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		_, err = client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		require.NoError(t, err, "the applied ClusterRole grants nodes get")
		_, err = client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "nodes list is not granted: err = %v", err)
	})

	t.Run("impersonation", func(t *testing.T) {
		user := harness.ServiceAccountUser("kube-system", "someone")
		cfg := cp.ImpersonationConfig(user, harness.ServiceAccountGroups("kube-system"),
			map[string][]string{harness.ExtraNodeName: {"n2"}})
		who, err := harness.WhoAmI(ctx, cfg)
		require.NoError(t, err)
		require.Equal(t, user, who.Username)
		if diff := cmp.Diff(harness.ServiceAccountGroups("kube-system"), who.Groups); diff != "" {
			t.Errorf("groups (-want,+got):\n%s", diff)
		}
		require.Equal(t, []string{"n2"}, []string(who.Extra[harness.ExtraNodeName]))
		client, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		_, err = client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		require.True(t, apierrors.IsForbidden(err), "an unbound account may not read nodes: err = %v", err)
	})
}
