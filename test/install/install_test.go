package install

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantry-dev/gantry/test/harness"
	"github.com/gantry-dev/gantry/test/manifest"
)

// namespace is the chart's documented release namespace.
const namespace = "kube-system"

func TestInstall(t *testing.T) {
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	cp := harness.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// helm install gantry manifests/helm/gantry -n kube-system
	// --dry-run=server, on the empty cluster: every object would be
	// created, and nothing is. The defaults render every kind of object
	// but the DRA claim templates, which go to the namespaces an operator
	// names; name one.
	chart := renderChart(t, filepath.Join(root, "manifests", "helm", "gantry"),
		map[string]any{"dra": map[string]any{"claimTemplates": map[string]any{"namespaces": []any{metav1.NamespaceDefault}}}})
	require.NotEmpty(t, chart)
	requireKinds(t, chart, "DeviceClass", "ResourceClaimTemplate", "ValidatingAdmissionPolicy", "DaemonSet")
	helm, err := manifest.NewApplier(cp.Config, "helm", namespace)
	require.NoError(t, err)
	helm.DryRun = true
	for _, obj := range chart {
		require.NoError(t, helm.Apply(ctx, obj), "chart, server-side dry run")
	}
	created, err := helm.Existing(ctx, chart...)
	require.NoError(t, err)
	require.Empty(t, created, "a dry run persists nothing")

	// kubectl apply --server-side -k manifests/<component>, every base.
	bases, err := filepath.Glob(filepath.Join(root, "manifests", "*", "kustomization.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(bases), 3, "scheduler, deviceplugin and autoscaler bases")
	kubectl, err := manifest.NewApplier(cp.Config, "kubectl", metav1.NamespaceDefault)
	require.NoError(t, err)
	var all []*unstructured.Unstructured
	for _, k := range bases {
		dir := filepath.Dir(k)
		objs := kustomizeBuild(t, dir)
		require.NotEmpty(t, objs, dir)
		require.NoError(t, kubectl.Apply(ctx, objs...), "kubectl apply --server-side -k %s", dir)
		all = append(all, objs...)
	}
	requireKinds(t, all, "DeviceClass", "DaemonSet")
	// kubectl apply --server-side -n default -f manifests/dra/claimtemplates.yaml:
	// the claim templates are applied per namespace, not by a base.
	templates, err := manifest.Decode("claimtemplates.yaml", readFile(t, filepath.Join(root, "manifests", "dra", "claimtemplates.yaml")))
	require.NoError(t, err)
	requireKinds(t, templates, "ResourceClaimTemplate")
	require.NoError(t, kubectl.Apply(ctx, templates...), "kubectl apply --server-side -n default -f manifests/dra/claimtemplates.yaml")
	all = append(all, templates...)
	got, err := kubectl.Existing(ctx, all...)
	require.NoError(t, err)
	require.Len(t, got, len(all), "every object of the bases exists")
	t.Logf("RESULT: %d chart objects accepted by a server-side dry run, %d objects of %d kustomize bases and the claim templates applied", len(chart), len(all), len(bases))
}

// requireKinds fails unless objs hold an object of each kind.
func requireKinds(t *testing.T, objs []*unstructured.Unstructured, kinds ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, o := range objs {
		have[o.GetKind()] = true
	}
	for _, k := range kinds {
		require.True(t, have[k], "no %s among the objects", k)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

// renderChart renders the chart with vals over its defaults, as `helm
// install gantry manifests/helm/gantry -n kube-system` does, in helm's
// install order.
func renderChart(t *testing.T, dir string, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	c, err := loader.Load(dir)
	require.NoError(t, err)
	rv, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{
		Name: "gantry", Namespace: namespace, Revision: 1, IsInstall: true}, chartutil.DefaultCapabilities)
	require.NoError(t, err)
	rendered, err := engine.Render(c, rv)
	require.NoError(t, err)
	files := map[string]string{}
	for name, content := range rendered {
		if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
			files[name] = content // as helm install: NOTES.txt is not a manifest
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	require.NoError(t, err)
	require.Empty(t, hooks, "the chart has no hooks")
	var out []*unstructured.Unstructured
	for _, m := range manifests {
		objs, err := manifest.Decode(m.Name, []byte(m.Content))
		require.NoError(t, err)
		out = append(out, objs...)
	}
	return out
}

// kustomizeBuild runs kustomize build on dir.
func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err, "kustomize build %s", dir)
	y, err := rm.AsYaml()
	require.NoError(t, err)
	objs, err := manifest.Decode(dir, y)
	require.NoError(t, err)
	return objs
}
