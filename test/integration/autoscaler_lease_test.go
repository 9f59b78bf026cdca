package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/kwok"
	"github.com/gantry-dev/gantry/autoscaler/core"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/test/harness"
)

const leaseTestConfig = `apiVersion: gantry.dev/v1alpha1
kind: AutoscalerConfiguration
nodeGroups:
  - name: t4
    template:
      device: {kind: gpu, model: T4, count: 4, memoryMiB: 16384}
      cpu: "64"
      memory: 512Gi
      pods: 110
      zone: zone-a
    maxSize: 10
scaleDown:
  unneededTime: 1s
  delayAfterAdd: 0s
  maxPodEvictionTime: 5m
`

// TestAutoscalerExitsAtOnceOnLostLease starts bin/gantry-autoscaler as
// shipped in the kwok demo (its ServiceAccount, roles and arguments; short
// lease timings) and puts its loop in the middle of a long drain: a node it
// owns holds a pod that stays Terminating after its eviction (the loop
// waits up to maxPodEvictionTime, 5 minutes, for it). Another holder then
// takes the Lease. The process must exit non-zero within seconds, without
// finishing the loop: the node is still there afterwards (still marked;
// the next leader unmarks leftovers at start). The drain itself stops on
// its cancelled context; that the process does not even wait for a loop
// that ignores cancellation is TestLostLeadership in autoscaler/leader.
func TestAutoscalerExitsAtOnceOnLostLease(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := startEnv(t, "Binpack")
	harness.StartKWOK(t, e.cp, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A node of group t4 created by the provider (as a scale-up would), and
	// room elsewhere for its pod.
	provider := kwok.New(e.client, nil, []config.NodeGroup{{Name: "t4", MaxSize: 10, Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: "T4", Count: 4, MemoryMiB: 16384},
		CPU:    resource.MustParse("64"), Memory: resource.MustParse("512Gi"), Pods: 110, Zone: "zone-a",
	}}})
	require.NoError(t, provider.NodeGroups()[0].IncreaseSize(ctx, 1))
	_, err := e.client.CoreV1().Nodes().Create(ctx, harness.NewKWOKNode("spare", nil), metav1.CreateOptions{})
	require.NoError(t, err)
	nodes, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var owned string
	for _, n := range nodes.Items {
		_, err := harness.WaitForNodeReady(ctx, e.client, n.Name, 30*time.Second)
		require.NoError(t, err)
		if n.Annotations[kwok.AnnotationOwner] != "" {
			owned = n.Name
		}
	}
	require.NotEmpty(t, owned)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "stays-terminating", Namespace: "default", Annotations: map[string]string{
			core.AnnotationSafeToEvict: "true", harness.KWOKStatusAnnotation: harness.KWOKStatusManual}},
		Spec: corev1.PodSpec{NodeName: owned, Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}
	pod, err = e.client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	_, err = e.client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)

	saCfg, shipped := shippedAutoscaler(t, e.cp, autoscalerKWOKDemo)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, harness.WriteKubeconfig(kubeconfig, saCfg))
	cfg := filepath.Join(dir, "autoscaler-config.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(leaseTestConfig), 0o600))
	as := harness.StartProcess(t, "gantry-autoscaler", withArgs(shipped, map[string]string{
		"--kubeconfig": kubeconfig, "--config": cfg, "--scheduler-config": "", "--scan-interval": "1s",
		"--metrics-bind-address": "", "--health-probe-bind-address": "",
		"--leader-elect-lease-duration": "4s", "--leader-elect-renew-deadline": "2s", "--leader-elect-retry-period": "500ms",
	})...)

	// The loop is draining: the pod was evicted and stays Terminating.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if as.Exited() {
			return false, as.Err()
		}
		p, err := e.client.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		return err == nil && p.DeletionTimestamp != nil, nil
	})
	require.NoError(t, err, "the autoscaler never evicted the pod")
	time.Sleep(time.Second)
	require.False(t, as.Exited(), "the autoscaler exited while draining: %v", as.Err())

	// Another holder takes the Lease, as a replica would after a partition.
	lease, err := e.client.CoordinationV1().Leases("kube-system").Get(ctx, "gantry-autoscaler", metav1.GetOptions{})
	require.NoError(t, err)
	lease.Spec.HolderIdentity = ptr.To("another-replica")
	lease.Spec.LeaseDurationSeconds = ptr.To[int32](60)
	lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	_, err = e.client.CoordinationV1().Leases("kube-system").Update(ctx, lease, metav1.UpdateOptions{})
	require.NoError(t, err)
	stolen := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	exitErr := as.Wait(wctx) // an exit is expected from here on
	require.NoError(t, wctx.Err(), "the autoscaler still runs 20s after losing its Lease")
	exited := time.Since(stolen)
	require.Error(t, exitErr, "a lost lease exits non-zero")
	log, err := os.ReadFile(as.LogPath())
	require.NoError(t, err)
	require.Contains(t, string(log), "leader election lost")
	// The drain did not finish: the node and its Terminating pod remain.
	n, err := e.client.CoreV1().Nodes().Get(ctx, owned, metav1.GetOptions{})
	require.NoError(t, err, "the node was deleted after the lease was lost")
	require.True(t, source.HasToBeDeleted(n), "still marked by the interrupted drain")
	t.Logf("RESULT: exited %.1fs after the Lease was taken (renew deadline 2s), in the middle of a drain that could wait 5m; %s kept", exited.Seconds(), owned)
	require.NotContains(t, strings.ToLower(string(log)), "forbidden")
}
