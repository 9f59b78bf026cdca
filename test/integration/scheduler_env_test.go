package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/test/harness"
)

// schedulerConfig runs Gantry's profiles next to a stock one, so the same
// binary can be compared with kube-scheduler's defaults: gantry-scheduler
// writes the allocation in PreBind, gantry-bind in the Binding, and
// gantry-shipped is gantry-bind tuned as manifests/scheduler ships it (every
// node scored, the stock CPU/memory scorers off). Format it with the
// kubeconfig and the policy.
var schedulerConfig = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %[1]q
  qps: 5000
  burst: 5000
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: default-scheduler
` + gantryProfile("gantry-scheduler", "PreBind", "") +
	gantryProfile("gantry-bind", "Bind", "") +
	gantryProfile("gantry-shipped", "Bind", `    percentageOfNodesToScore: 100
`)

// gantryProfile is a profile running GantryDeviceShare with the policy of
// the config's second argument; tuning is inserted as written.
func gantryProfile(name, write, tuning string) string {
	bind, score := "", ""
	if write == "Bind" {
		bind = `      bind:
        enabled:
          - name: GantryDeviceShare
          - name: DefaultBinder
        disabled:
          - name: "*"
`
	}
	if tuning != "" {
		score = `      score:
        disabled:
          - name: NodeResourcesFit
          - name: NodeResourcesBalancedAllocation
`
	}
	return `  - schedulerName: ` + name + `
` + tuning + `    plugins:
` + score + `      multiPoint:
        enabled:
          - name: GantryDeviceShare
            weight: 10
` + bind + `    pluginConfig:
      - name: NodeResourcesFit
        args:
          ignoredResourceGroups: ["gantry.dev"]
      - name: GantryDeviceShare
        args:
          apiVersion: gantry.dev/v1alpha1
          kind: DeviceShareArgs
          policy: %[2]s
          zoneSpreadWeight: 70
          writeAllocation: ` + write + `
`
}

// env is a control plane with gantry-scheduler running against it.
type env struct {
	cp        *harness.ControlPlane
	client    kubernetes.Interface
	scheduler *harness.Process
}

func startEnv(t testing.TB, policy string) *env {
	t.Helper()
	cp := harness.Start(t)
	dir := t.TempDir()
	// The scheduler runs as its shipped ServiceAccount under its shipped RBAC.
	kubeconfig := runAsShippedScheduler(t, cp, dir)
	cfg := filepath.Join(dir, "scheduler-config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(schedulerConfig, kubeconfig, policy)), 0o600))
	return &env{cp: cp, client: cp.Client, scheduler: startSchedulerProcess(t, cfg, kubeconfig)}
}

// startSchedulerProcess runs bin/gantry-scheduler with the configuration
// file cfg, authenticating and authorizing its clients with kubeconfig, on a
// free local port.
func startSchedulerProcess(t testing.TB, cfg, kubeconfig string) *harness.Process {
	t.Helper()
	port, err := harness.FreePort()
	require.NoError(t, err)
	return harness.StartProcess(t, "gantry-scheduler",
		"--config="+cfg,
		"--authentication-kubeconfig="+kubeconfig,
		"--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--v=2",
	)
}

func (e *env) createNodes(t testing.TB, nodes ...*corev1.Node) {
	t.Helper()
	ctx := context.Background()
	for _, n := range nodes {
		_, err := harness.CreateReadyNode(ctx, e.client, n)
		require.NoError(t, err)
	}
}

func (e *env) createPod(t testing.TB, pod *corev1.Pod) {
	t.Helper()
	_, err := e.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	require.NoError(t, err)
}

// waitBound waits for pod to be bound and returns it.
func (e *env) waitBound(t testing.TB, ns, name string, timeout time.Duration) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := e.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = p
		return p.Spec.NodeName != "", nil
	})
	require.NoError(t, err, "pod %s/%s not bound", ns, name)
	return got
}

// waitEvent waits for a FailedScheduling event on the pod and returns its note.
func (e *env) waitEvent(t testing.TB, ns, name string, timeout time.Duration) string {
	t.Helper()
	var note string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		evs, err := e.client.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, ev := range evs.Items {
			if ev.Regarding.Name == name && ev.Reason == "FailedScheduling" {
				note = ev.Note
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err, "no FailedScheduling event for %s/%s", ns, name)
	return note
}

// allocationOf decodes the pod's allocation annotation.
func allocationOf(t testing.TB, pod *corev1.Pod) contract.Allocation {
	t.Helper()
	a, src, ok, err := contract.AllocationOf(pod)
	require.NoError(t, err)
	require.True(t, ok, "pod %s has no allocation annotation", pod.Name)
	require.Equal(t, contract.FromScheduler, src)
	require.Equal(t, pod.Spec.NodeName, a.Node)
	return a
}

func createReadyNode(ctx context.Context, e *env, n *corev1.Node) (*corev1.Node, error) {
	return harness.CreateReadyNode(ctx, e.client, n)
}
