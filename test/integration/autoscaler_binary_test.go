package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gantry-dev/gantry/test/harness"
)

// binaryAutoscalerConfig has the node groups and the shortened scale-down
// times of TestAutoscalerEndToEnd's in-process configuration.
const binaryAutoscalerConfig = `apiVersion: gantry.dev/v1alpha1
kind: AutoscalerConfiguration
nodeGroups:
  - name: t4
    template:
      device: {kind: gpu, model: T4, count: 4, memoryMiB: 16384}
      cpu: "64"
      memory: 512Gi
      pods: 110
      zone: zone-a
    maxSize: 100
    pricePerHour: 1
  - name: a100
    template:
      device: {kind: gpu, model: A100, count: 8, memoryMiB: 16384}
      cpu: "64"
      memory: 512Gi
      pods: 110
      zone: zone-a
    maxSize: 100
    pricePerHour: 1
scaleDown:
  unneededTime: 5s
  delayAfterAdd: 5s
  delayAfterFailure: 1s
  maxConcurrent: 100
`

// TestAutoscalerBinaryEndToEnd is TestAutoscalerEndToEnd with the real
// bin/gantry-autoscaler process (make build) instead of the loop in the
// test, installed as the kwok demo overlay ships it: its ServiceAccount
// (a real token in --kubeconfig), its roles and its container arguments,
// with only the configuration files, the scan interval (1 s) and the
// listen addresses replaced. Leader election is on, so the Lease must work
// under those roles before the loop runs; the status ConfigMap is updated
// through its resourceNames-limited Role; /healthz and /readyz answer ok;
// the log has no permission error.
func TestAutoscalerBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := startEnv(t, "Binpack")
	harness.StartKWOK(t, e.cp, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	saCfg, shipped := shippedAutoscaler(t, e.cp, autoscalerKWOKDemo)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, harness.WriteKubeconfig(kubeconfig, saCfg))
	cfg := filepath.Join(dir, "autoscaler-config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(binaryAutoscalerConfig), 0o600))
	// The scheduler's own configuration: the autoscaler simulates with its
	// gantry-scheduler profile.
	schedCfg := filepath.Join(dir, "scheduler-config.yaml")
	require.NoError(t, os.WriteFile(schedCfg, []byte(fmt.Sprintf(schedulerConfig, e.cp.KubeconfigPath, "Binpack")), 0o600))
	healthPort, err := harness.FreePort()
	require.NoError(t, err)
	args := withArgs(shipped, map[string]string{
		"--kubeconfig":                kubeconfig,
		"--config":                    cfg,
		"--scheduler-config":          schedCfg,
		"--scan-interval":             "1s",
		"--metrics-bind-address":      "",
		"--health-probe-bind-address": fmt.Sprintf("127.0.0.1:%d", healthPort),
	})
	require.Contains(t, args, "--provider=kwok")
	t.Logf("gantry-autoscaler %s", strings.Join(args, " "))
	started := time.Now()
	as := harness.StartProcess(t, "gantry-autoscaler", args...)

	// The process acquires the Lease; its holder is hostname_<random>.
	host, err := os.Hostname()
	require.NoError(t, err)
	var holder string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if as.Exited() {
			return false, as.Err()
		}
		l, err := e.client.CoordinationV1().Leases("kube-system").Get(ctx, "gantry-autoscaler", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return false, nil
		}
		holder = *l.Spec.HolderIdentity
		return holder != "", nil
	})
	require.NoError(t, err, "the autoscaler did not acquire its Lease")
	require.True(t, strings.HasPrefix(holder, host+"_"), "holder %q is not hostname_<suffix>", holder)
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		log, err := os.ReadFile(as.LogPath())
		return err == nil && strings.Contains(string(log), "Started leading") && strings.Contains(string(log), holder), nil
	})
	require.NoError(t, err, "the autoscaler's log does not say it leads as %s", holder)
	t.Logf("RESULT: Lease kube-system/gantry-autoscaler held by %s %.1fs after the process started", holder, time.Since(started).Seconds())
	probe := func(path string) (int, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", healthPort, path))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		code, _ := probe("/readyz")
		return code == http.StatusOK, nil
	})
	require.NoError(t, err, "/readyz never answered ok")

	mixed, minimum := shareWorkload()
	scaleUpAndDown(t, ctx, e, mixed, minimum)

	// Still the leader, live, and running after the whole run.
	require.False(t, as.Exited(), "the autoscaler exited: %v", as.Err())
	l, err := e.client.CoordinationV1().Leases("kube-system").Get(ctx, "gantry-autoscaler", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, holder, *l.Spec.HolderIdentity)
	code, body := probe("/healthz")
	require.Equal(t, http.StatusOK, code, "/healthz: %s", body)
	// The loop wrote its status into the shipped ConfigMap.
	cm, err := e.client.CoreV1().ConfigMaps("kube-system").Get(ctx, "gantry-autoscaler-status", metav1.GetOptions{})
	require.NoError(t, err)
	require.Contains(t, cm.Data["status"], "nodeGroups:")
	log, err := os.ReadFile(as.LogPath())
	require.NoError(t, err)
	require.NotContains(t, strings.ToLower(string(log)), "forbidden", "the shipped roles lack a permission the autoscaler uses")
	// The figure behind the shipped memory limit (reported, not asserted).
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", as.PID())); err == nil {
		for _, line := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				t.Logf("RESULT: gantry-autoscaler peak RSS %s", strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")))
			}
		}
	}
}
