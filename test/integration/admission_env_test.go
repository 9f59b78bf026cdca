package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gantry-dev/gantry/test/harness"
)

// shippedNamespace is where the shipped manifests install Gantry.
const shippedNamespace = "kube-system"

// admissionEnv is a control plane with Gantry installed from the shipped
// manifests: every component's RBAC, the node agent's
// ValidatingAdmissionPolicy, the webhook configurations (pointed at
// loopback instead of the Service), the real bin/gantry-webhook serving them
// over TLS with its self-managed certificate, and the real
// bin/gantry-scheduler with the shipped KubeSchedulerConfiguration. Both
// processes run as their shipped ServiceAccounts, with real tokens.
type admissionEnv struct {
	cp        *harness.ControlPlane
	client    kubernetes.Interface
	webhook   *harness.Process
	scheduler *harness.Process
}

type admissionOptions struct {
	// beforeAdmission runs after the RBAC and the policy are installed and
	// before the webhook configurations are: what it creates never met the
	// webhook.
	beforeAdmission func(t *testing.T, cp *harness.ControlPlane)
	noScheduler     bool
	// webhookArgs are appended to gantry-webhook's command line.
	webhookArgs []string
}

func startAdmissionEnv(t *testing.T, o admissionOptions) *admissionEnv {
	t.Helper()
	cp := harness.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, cp.ApplyFiles(ctx,
		"manifests/scheduler/rbac.yaml",
		"manifests/deviceplugin/rbac.yaml",
		"manifests/deviceplugin/admission-policy.yaml",
		"manifests/webhook/rbac.yaml",
	))
	e := &admissionEnv{cp: cp, client: cp.Client}
	waitPolicyEnforced(t, ctx, cp)
	if o.beforeAdmission != nil {
		o.beforeAdmission(t, cp)
	}

	// The webhook configurations as shipped, but calling 127.0.0.1: no
	// Service routes here. caBundle stays empty: gantry-webhook fills it.
	port, err := harness.FreePort()
	require.NoError(t, err)
	healthPort, err := harness.FreePort()
	require.NoError(t, err)
	configs, err := harness.ReadManifests("manifests/webhook/webhooks.yaml")
	require.NoError(t, err)
	for _, c := range configs {
		pointAtLoopback(t, c, port)
	}
	require.NoError(t, cp.Apply(ctx, configs...))

	dir := t.TempDir()
	e.webhook = harness.StartProcess(t, "gantry-webhook", append([]string{
		"--kubeconfig=" + serviceAccountKubeconfig(t, ctx, cp, dir, "gantry-webhook"),
		fmt.Sprintf("--bind-address=127.0.0.1:%d", port),
		fmt.Sprintf("--health-bind-address=127.0.0.1:%d", healthPort),
		"--namespace=" + shippedNamespace,
		"--tls-san=127.0.0.1",
		"--v=4",
	}, o.webhookArgs...)...)
	waitReady(t, ctx, e.webhook, fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort))

	if !o.noScheduler {
		e.scheduler = startShippedScheduler(t, ctx, cp, dir)
	}
	return e
}

// pointAtLoopback replaces each webhook's Service with a URL on loopback.
func pointAtLoopback(t *testing.T, c *unstructured.Unstructured, port int) {
	t.Helper()
	webhooks, _, err := unstructured.NestedSlice(c.Object, "webhooks")
	require.NoError(t, err)
	for i, w := range webhooks {
		wm := w.(map[string]any)
		path, _, err := unstructured.NestedString(wm, "clientConfig", "service", "path")
		require.NoError(t, err)
		require.NotEmpty(t, path, "webhook %d of %s names a Service path", i, c.GetName())
		wm["clientConfig"] = map[string]any{"url": fmt.Sprintf("https://127.0.0.1:%d%s", port, path)}
		webhooks[i] = wm
	}
	require.NoError(t, unstructured.SetNestedSlice(c.Object, webhooks, "webhooks"))
}

// serviceAccountKubeconfig writes a kubeconfig with a real token of the
// shipped ServiceAccount name.
func serviceAccountKubeconfig(t *testing.T, ctx context.Context, cp *harness.ControlPlane, dir, name string) string {
	t.Helper()
	cfg, err := cp.ServiceAccountConfig(ctx, shippedNamespace, name)
	require.NoError(t, err)
	path := filepath.Join(dir, name+".kubeconfig")
	require.NoError(t, harness.WriteKubeconfig(path, cfg))
	return path
}

// serviceAccountClient is a clientset for a real token of name, bound to
// boundPod (nil: not bound to a pod, so no node claim).
func serviceAccountConfig(t *testing.T, ctx context.Context, cp *harness.ControlPlane, name string, opts ...harness.TokenOption) *rest.Config {
	t.Helper()
	cfg, err := cp.ServiceAccountConfig(ctx, shippedNamespace, name, opts...)
	require.NoError(t, err)
	return cfg
}

// startShippedScheduler runs bin/gantry-scheduler with the shipped
// KubeSchedulerConfiguration (leader election included) as the shipped
// ServiceAccount.
func startShippedScheduler(t *testing.T, ctx context.Context, cp *harness.ControlPlane, dir string) *harness.Process {
	t.Helper()
	kubeconfig := serviceAccountKubeconfig(t, ctx, cp, dir, "gantry-scheduler")
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	shipped, err := os.ReadFile(filepath.Join(root, "manifests", "scheduler", "scheduler-config.yaml"))
	require.NoError(t, err)
	cfg := filepath.Join(dir, "scheduler-config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("clientConnection:\n  kubeconfig: %q\n", kubeconfig)+string(shipped)), 0o600))
	return startSchedulerProcess(t, cfg, kubeconfig)
}

// waitReady polls url until it answers 200.
func waitReady(t *testing.T, ctx context.Context, p *harness.Process, url string) {
	t.Helper()
	err := harness.Poll(ctx, time.Minute, 100*time.Millisecond, "wait for "+url, func(ctx context.Context) (bool, error, error) {
		if p.Exited() {
			return false, nil, fmt.Errorf("%s exited", p.Name())
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err, nil
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s: %s", url, resp.Status), nil
		}
		return true, nil, nil
	})
	require.NoError(t, err)
}

// denied asserts err is an admission refusal containing every want.
func denied(t *testing.T, err error, want ...string) {
	t.Helper()
	require.Error(t, err)
	for _, w := range want {
		require.True(t, strings.Contains(err.Error(), w), "error %q does not contain %q", err.Error(), w)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// waitPolicyEnforced waits until kube-apiserver enforces the node agent's
// ValidatingAdmissionPolicy (it loads policies asynchronously): a dry-run
// patch of a probe node by the agent's identity without a node claim is
// refused.
func waitPolicyEnforced(t *testing.T, ctx context.Context, cp *harness.ControlPlane) {
	t.Helper()
	_, err := harness.CreateReadyNode(ctx, cp.Client, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "policy-probe"}})
	require.NoError(t, err)
	agent, err := kubernetes.NewForConfig(cp.ImpersonationConfig(harness.ServiceAccountUser(shippedNamespace, "gantry-device-plugin"),
		harness.ServiceAccountGroups(shippedNamespace), nil))
	require.NoError(t, err)
	err = harness.Poll(ctx, 30*time.Second, 100*time.Millisecond, "wait for the node agent's admission policy", func(ctx context.Context) (bool, error, error) {
		_, err := agent.CoreV1().Nodes().Patch(ctx, "policy-probe", types.MergePatchType, []byte(`{"metadata":{"labels":{"gantry.dev/probe":"x"}}}`),
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'gantry-device-plugin-own-node'") {
			return true, nil, nil
		}
		return false, fmt.Errorf("not enforced yet: %v", err), nil
	})
	require.NoError(t, err)
	require.NoError(t, cp.Client.CoreV1().Nodes().Delete(ctx, "policy-probe", metav1.DeleteOptions{}))
}

// runAsShippedScheduler installs the scheduler's shipped RBAC
// (manifests/scheduler/rbac.yaml) plus the one rule the chart adds for
// writeAllocation: PreBind (the test configuration runs a PreBind profile
// beside the shipped Bind one), and returns a kubeconfig with a real token of
// the gantry-scheduler ServiceAccount: a permission the scheduler lacks, or
// one it should not need, shows up in the scheduler's own tests.
func runAsShippedScheduler(t testing.TB, cp *harness.ControlPlane, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, cp.ApplyFiles(ctx, "manifests/scheduler/rbac.yaml"))
	require.NoError(t, cp.Apply(ctx, chartPreBindRBAC(t)...))
	cfg, err := cp.ServiceAccountConfig(ctx, shippedNamespace, "gantry-scheduler")
	require.NoError(t, err)
	path := filepath.Join(dir, "gantry-scheduler.kubeconfig")
	require.NoError(t, harness.WriteKubeconfig(path, cfg))
	return path
}

// chartPreBindRBAC renders the chart with scheduler.writeAllocation: PreBind
// and returns the scheduler's ClusterRole and ClusterRoleBinding for it.
func chartPreBindRBAC(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	c, err := loader.Load(filepath.Join(root, "manifests", "helm", "gantry"))
	require.NoError(t, err)
	rv, err := chartutil.ToRenderValues(c, map[string]any{"scheduler": map[string]any{"writeAllocation": "PreBind"}},
		chartutil.ReleaseOptions{Name: "gantry", Namespace: shippedNamespace, Revision: 1, IsInstall: true}, chartutil.DefaultCapabilities)
	require.NoError(t, err)
	rendered, err := engine.Render(c, rv)
	require.NoError(t, err)
	var out []*unstructured.Unstructured
	for name, content := range rendered {
		if filepath.Base(name) != "scheduler-rbac.yaml" {
			continue
		}
		objs, err := harness.DecodeManifests([]byte(content))
		require.NoError(t, err)
		for _, o := range objs {
			if (o.GetKind() == "ClusterRole" || o.GetKind() == "ClusterRoleBinding") && o.GetName() == "gantry-scheduler" {
				out = append(out, o)
			}
		}
	}
	require.Len(t, out, 2, "the chart's PreBind ClusterRole and its binding")
	return out
}
