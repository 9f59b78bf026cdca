package integration

import (
	"context"
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
// test: kwok provider, a configuration file, --kubeconfig, a 1 s scan
// interval and leader election on, so the Lease must work against the real
// kube-apiserver before the loop runs.
func TestAutoscalerBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := startEnv(t, "Binpack")
	harness.StartKWOK(t, e.cp, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	cfg := filepath.Join(t.TempDir(), "autoscaler-config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(binaryAutoscalerConfig), 0o600))
	started := time.Now()
	as := harness.StartProcess(t, "gantry-autoscaler",
		"--kubeconfig="+e.cp.KubeconfigPath,
		"--config="+cfg,
		"--provider=kwok",
		"--scan-interval=1s",
		"--metrics-bind-address=",
		"--leader-elect=true",
		"--leader-elect-resource-namespace=kube-system",
		"--leader-elect-resource-name=gantry-autoscaler",
	)

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

	mixed, minimum := shareWorkload()
	scaleUpAndDown(t, ctx, e, mixed, minimum)

	// Still the leader and still running after the whole run.
	require.False(t, as.Exited(), "the autoscaler exited: %v", as.Err())
	l, err := e.client.CoordinationV1().Leases("kube-system").Get(ctx, "gantry-autoscaler", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, holder, *l.Spec.HolderIdentity)
}
