package playground

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gantry-dev/gantry/test/harness"
	"github.com/gantry-dev/gantry/test/manifest"
)

// harnessAdmin is the identity every playground process uses (the
// harness's admin certificate), so the webhook lets it write the
// scheduler's allocation records.
const harnessAdmin = "gantry-harness-admin"

// startWebhook runs bin/gantry-webhook on a loopback port with
// self-managed certificates (127.0.0.1 in the serving certificate) and
// registers the shipped webhook configurations, pointed at that port
// instead of the in-cluster Service; it returns once the webhook has
// injected its caBundle and is ready.
func startWebhook(s *session, cp *harness.ControlPlane, manifestPath string) error {
	port, err := harness.FreePort()
	if err != nil {
		return err
	}
	health, err := harness.FreePort()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return err
	}
	objs, err := manifest.Decode(manifestPath, data)
	if err != nil {
		return err
	}
	base := "https://127.0.0.1:" + strconv.Itoa(port)
	for _, o := range objs {
		if err := pointAt(o, base); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := manifest.NewApplier(cp.Config, "gantry-playground", metav1.NamespaceSystem)
	if err != nil {
		return err
	}
	if err := a.Apply(ctx, objs...); err != nil {
		return fmt.Errorf("webhook configurations: %w", err)
	}
	harness.StartProcess(s, "gantry-webhook",
		"--kubeconfig="+cp.KubeconfigPath,
		"--bind-address=127.0.0.1:"+strconv.Itoa(port),
		"--health-bind-address=127.0.0.1:"+strconv.Itoa(health),
		"--cert-mode=self-managed",
		"--namespace="+metav1.NamespaceSystem,
		"--tls-san=127.0.0.1",
		"--scheduler-users="+harnessAdmin,
		"--v=2",
	)
	ready := "http://127.0.0.1:" + strconv.Itoa(health) + "/readyz"
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ready, nil)
		if err != nil {
			return false, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// pointAt replaces each webhook's service reference with base + its path.
func pointAt(o *unstructured.Unstructured, base string) error {
	hooks, _, err := unstructured.NestedSlice(o.Object, "webhooks")
	if err != nil {
		return err
	}
	for i, h := range hooks {
		m := h.(map[string]any)
		path, _, _ := unstructured.NestedString(m, "clientConfig", "service", "path")
		m["clientConfig"] = map[string]any{"url": base + path}
		hooks[i] = m
	}
	return unstructured.SetNestedSlice(o.Object, hooks, "webhooks")
}
