package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantry-dev/gantry/test/harness"
)

// The shipped identity of gantry-autoscaler and the kustomizations that
// install it.
const (
	autoscalerNamespace = "kube-system"
	autoscalerAccount   = "gantry-autoscaler"
	autoscalerBase      = "manifests/autoscaler"
	autoscalerKWOKDemo  = "manifests/overlays/kwok-demo"
)

// kustomizeBuild returns the objects `kustomize build dir` prints (dir
// relative to the repository root).
func kustomizeBuild(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	require.NoError(t, err, "kustomize build %s", dir)
	y, err := rm.AsYaml()
	require.NoError(t, err)
	objs, err := harness.DecodeManifests(y)
	require.NoError(t, err)
	return objs
}

// shippedAutoscaler applies the autoscaler's kustomization dir (its
// ServiceAccount, roles, bindings, ConfigMaps and Deployment; no
// controller runs the Deployment) and returns a configuration that
// authenticates as its ServiceAccount with a real token, and the
// container's arguments as shipped.
func shippedAutoscaler(t testing.TB, cp *harness.ControlPlane, dir string) (*rest.Config, []string) {
	t.Helper()
	ctx := context.Background()
	objs := kustomizeBuild(t, dir)
	require.NoError(t, cp.Apply(ctx, objs...))
	var args []string
	for _, o := range objs {
		if o.GetKind() != "Deployment" || o.GetName() != autoscalerAccount {
			continue
		}
		ctrs, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		require.NoError(t, err)
		a, _, err := unstructured.NestedStringSlice(ctrs[0].(map[string]any), "args")
		require.NoError(t, err)
		args = a
	}
	require.NotEmpty(t, args, "%s ships no %s Deployment", dir, autoscalerAccount)
	cfg, err := cp.ServiceAccountConfig(ctx, autoscalerNamespace, autoscalerAccount)
	require.NoError(t, err)
	cfg.QPS, cfg.Burst = 200, 400
	return cfg, args
}

// withArgs returns the shipped arguments with the given flags' values
// replaced (or added when absent), so a test runs what ships but with its
// own files and ports.
func withArgs(shipped []string, set map[string]string) []string {
	var out []string
	done := map[string]bool{}
	for _, a := range shipped {
		name, _, _ := strings.Cut(a, "=")
		if v, ok := set[name]; ok {
			out = append(out, name+"="+v)
			done[name] = true
			continue
		}
		out = append(out, a)
	}
	for name, v := range set {
		if !done[name] {
			out = append(out, name+"="+v)
		}
	}
	return out
}

type access struct {
	verb, group, resource, subresource, namespace, name string
}

func (a access) String() string {
	s := a.verb + " " + a.resource
	if a.subresource != "" {
		s += "/" + a.subresource
	}
	if a.group != "" {
		s += "." + a.group
	}
	if a.namespace != "" {
		s += " in " + a.namespace
	}
	if a.name != "" {
		s += " named " + a.name
	}
	return s
}

// allowed asks the API server's authorizer (RBAC) whether the
// ServiceAccount cfg authenticates as may do a.
func allowed(t *testing.T, client kubernetes.Interface, a access) bool {
	t.Helper()
	r, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource, Namespace: a.namespace, Name: a.name,
		}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return r.Status.Allowed
}

// TestAutoscalerShippedRBAC applies the shipped base and then the kwok demo
// overlay and asks the real kube-apiserver's RBAC what the autoscaler's
// ServiceAccount may do: everything its code does (the end-to-end tests
// run it under this identity), and none of what it must not (delete pods,
// touch ConfigMaps other than its status, create or delete nodes outside
// the kwok demo).
func TestAutoscalerShippedRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	cp := harness.Start(t)
	ns := autoscalerNamespace
	status := "gantry-autoscaler-status"
	needed := []access{
		{verb: "list", resource: "nodes"}, {verb: "watch", resource: "nodes"},
		{verb: "get", resource: "nodes"}, {verb: "update", resource: "nodes"},
		{verb: "list", resource: "pods"}, {verb: "watch", resource: "pods"},
		{verb: "create", resource: "pods", subresource: "eviction", namespace: "team-a"},
		{verb: "list", group: "policy", resource: "poddisruptionbudgets"}, {verb: "watch", group: "policy", resource: "poddisruptionbudgets"},
		{verb: "create", resource: "events", namespace: "team-a"}, {verb: "patch", resource: "events", namespace: "team-a"},
		{verb: "get", resource: "configmaps", namespace: ns, name: status}, {verb: "update", resource: "configmaps", namespace: ns, name: status},
		{verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: ns},
		{verb: "get", group: "coordination.k8s.io", resource: "leases", namespace: ns, name: autoscalerAccount},
		{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: ns, name: autoscalerAccount},
		{verb: "get", group: "cluster.x-k8s.io", resource: "machinedeployments", namespace: "default", name: "md"},
		{verb: "get", group: "cluster.x-k8s.io", resource: "machinedeployments", subresource: "scale", namespace: "default", name: "md"},
		{verb: "update", group: "cluster.x-k8s.io", resource: "machinedeployments", subresource: "scale", namespace: "default", name: "md"},
		{verb: "list", group: "cluster.x-k8s.io", resource: "machines", namespace: "default"},
		{verb: "patch", group: "cluster.x-k8s.io", resource: "machines", namespace: "default", name: "m"},
		{verb: "list", group: "resource.k8s.io", resource: "resourceslices"}, {verb: "watch", group: "resource.k8s.io", resource: "resourceslices"},
		{verb: "list", group: "resource.k8s.io", resource: "deviceclasses"}, {verb: "watch", group: "resource.k8s.io", resource: "deviceclasses"},
		{verb: "list", group: "resource.k8s.io", resource: "resourceclaims"}, {verb: "watch", group: "resource.k8s.io", resource: "resourceclaims"},
	}
	forbidden := []access{
		{verb: "delete", resource: "pods", namespace: "team-a", name: "p"},
		{verb: "patch", resource: "pods", namespace: "team-a", name: "p"},
		{verb: "get", resource: "pods", namespace: "team-a", name: "p"},
		{verb: "patch", resource: "nodes", name: "n"},
		{verb: "get", resource: "configmaps", namespace: ns, name: "coredns"},
		{verb: "update", resource: "configmaps", namespace: ns, name: "coredns"},
		{verb: "create", resource: "configmaps", namespace: ns},
		{verb: "list", resource: "configmaps", namespace: ns},
		{verb: "get", resource: "secrets", namespace: ns, name: "any"},
		{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: ns, name: "kube-scheduler"},
		{verb: "delete", group: "cluster.x-k8s.io", resource: "machines", namespace: "default", name: "m"},
		{verb: "update", group: "cluster.x-k8s.io", resource: "machinedeployments", namespace: "default", name: "md"},
		{verb: "create", group: "policy", resource: "poddisruptionbudgets", namespace: "team-a"},
		// DRA objects are read, never written.
		{verb: "create", group: "resource.k8s.io", resource: "resourceslices"},
		{verb: "update", group: "resource.k8s.io", resource: "resourceclaims", namespace: "team-a", name: "c"},
		{verb: "update", group: "resource.k8s.io", resource: "resourceclaims", subresource: "status", namespace: "team-a", name: "c"},
		{verb: "get", group: "resource.k8s.io", resource: "resourceclaims", namespace: "team-a", name: "c"},
		{verb: "list", group: "resource.k8s.io", resource: "resourceclaimtemplates", namespace: "team-a"},
	}
	kwokOnly := []access{{verb: "create", resource: "nodes"}, {verb: "delete", resource: "nodes", name: "n"}}

	check := func(t *testing.T, dir string, wantKWOK bool) {
		cfg, _ := shippedAutoscaler(t, cp, dir)
		who, err := harness.WhoAmI(context.Background(), cfg)
		require.NoError(t, err)
		require.Equal(t, harness.ServiceAccountUser(ns, autoscalerAccount), who.Username)
		client, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		for _, a := range needed {
			if !allowed(t, client, a) {
				t.Errorf("%s: the autoscaler needs to %s and may not", dir, a)
			}
		}
		for _, a := range forbidden {
			if allowed(t, client, a) {
				t.Errorf("%s: the autoscaler may %s and must not", dir, a)
			}
		}
		for _, a := range kwokOnly {
			if got := allowed(t, client, a); got != wantKWOK {
				t.Errorf("%s: may %s = %v, want %v (kwok demo only)", dir, a, got, wantKWOK)
			}
		}
	}
	// The base first: applying the overlay afterwards adds its role.
	t.Run("base", func(t *testing.T) { check(t, autoscalerBase, false) })
	t.Run("kwok demo", func(t *testing.T) { check(t, autoscalerKWOKDemo, true) })
}
