package harness_test

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gantry-dev/gantry/test/harness"
)

// TestControlPlaneWithKWOK is the harness's smoke test: a real etcd and
// kube-apiserver, KWOK with the project's Stage configs, a KWOK node that
// becomes Ready, a pod bound to it that runs and is deleted, and a cleanup
// that leaves no process and no data behind. It needs the binaries from
// hack/build-test-tools.sh and fails (never skips) without them.
func TestControlPlaneWithKWOK(t *testing.T) {
	var (
		pids            []int
		dataDir, logDir string
	)
	t.Run("cluster", func(t *testing.T) {
		cp := harness.Start(t)
		kwok := harness.StartKWOK(t, cp, "")
		pids = []int{cp.Etcd.PID(), cp.APIServer.PID(), kwok.PID()}
		dataDir, logDir = cp.Dir, cp.LogDir

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		client := cp.Client

		if _, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			t.Fatalf("default ServiceAccount: %v", err)
		}
		if fi, err := os.Stat(cp.KubeconfigPath); err != nil || fi.Size() == 0 {
			t.Fatalf("kubeconfig %s: %v", cp.KubeconfigPath, err)
		}

		// A KWOK-managed node: KWOK's node-initialize stage makes it Ready.
		node := harness.NewKWOKNode("kwok-node-0", corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("8"),
			corev1.ResourceMemory: resource.MustParse("32Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		})
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create node: %v", err)
		}
		ready, err := harness.WaitForNodeReady(ctx, client, node.Name, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := ready.Status.Allocatable.Cpu().String(); got != "8" {
			t.Errorf("node allocatable cpu = %s, want the creator's 8 (stage must not overwrite it)", got)
		}
		if len(ready.Spec.Taints) != 0 {
			t.Errorf("node taints = %v, want none", ready.Spec.Taints)
		}

		// A pod bound to it by spec.nodeName: KWOK's pod-ready stage runs it.
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace:  "default",
				Name:       "smoke",
				Finalizers: []string{"gantry.dev/harness-smoke-test"},
			},
			Spec: corev1.PodSpec{
				NodeName: node.Name,
				InitContainers: []corev1.Container{
					{Name: "init", Image: "registry.k8s.io/pause:3.10"},
					{Name: "sidecar", Image: "registry.k8s.io/pause:3.10", RestartPolicy: new(corev1.ContainerRestartPolicyAlways)},
				},
				Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
			},
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod: %v", err)
		}
		running, err := harness.WaitForPodRunning(ctx, client, "default", pod.Name, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, cidr, _ := net.ParseCIDR(harness.KWOKPodCIDR)
		if ip := net.ParseIP(running.Status.PodIP); ip == nil || !cidr.Contains(ip) {
			t.Errorf("pod IP %q, want one in %s", running.Status.PodIP, harness.KWOKPodCIDR)
		}
		if n := len(running.Status.ContainerStatuses); n != 1 || !running.Status.ContainerStatuses[0].Ready {
			t.Errorf("container statuses = %+v, want one ready container", running.Status.ContainerStatuses)
		}
		if n := len(running.Status.InitContainerStatuses); n != 2 ||
			running.Status.InitContainerStatuses[0].State.Terminated == nil ||
			running.Status.InitContainerStatuses[1].State.Running == nil {
			t.Errorf("init container statuses = %+v, want init terminated and sidecar running", running.Status.InitContainerStatuses)
		}

		// Graceful deletion of a pod with a finalizer: KWOK removes it.
		if err := client.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete pod: %v", err)
		}
		if err := harness.WaitForPodGone(ctx, client, "default", pod.Name, 30*time.Second); err != nil {
			t.Fatal(err)
		}

		// A node KWOK does not manage, made Ready by the harness alone.
		plain, err := harness.CreateReadyNode(ctx, client, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "plain-node"},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{
				{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !harness.NodeIsReady(plain) || plain.Status.Allocatable.Pods().Value() != 110 {
			t.Errorf("CreateReadyNode = %+v, want Ready with default capacity", plain.Status)
		}

		// A non-admin identity is subject to RBAC.
		userCfg, err := cp.UserConfig("harness-nobody")
		if err != nil {
			t.Fatal(err)
		}
		nobody, err := kubernetes.NewForConfig(userCfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nobody.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("listing nodes as an unbound user: err = %v, want Forbidden (RBAC)", err)
		}
	})
	if t.Failed() {
		return
	}

	// Cleanup ran when the subtest ended: no process of any group is left,
	// and the data and (on success) log directories are gone.
	for _, pid := range pids {
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d still has processes after cleanup (kill -0: %v)", pid, err)
		}
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data directory %s still exists after cleanup: %v", dataDir, err)
	}
	if os.Getenv(harness.EnvLogDir) == "" {
		if _, err := os.Stat(logDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("log directory %s still exists after a passing test: %v", logDir, err)
		}
	}
}
