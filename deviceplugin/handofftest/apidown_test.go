package handofftest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"

	"github.com/gantry-dev/gantry/deviceplugin/agent"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/discovery/nvmltest"
)

// TestServesWithoutAPIServer starts the agent while its API server is
// unreachable (nothing listens at its address): it still registers with
// kubelet and advertises every GPU, and Allocate answers, so an agent
// restart during an API outage keeps the node's GPUs.
func TestServesWithoutAPIServer(t *testing.T) {
	requireKubeletDir(t)
	logger := ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(0)))
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	defer cancel()
	prDir, specDir, toolkitDir := t.TempDir(), t.TempDir(), t.TempDir()
	writeToolkitSpec(t, toolkitDir)
	k := startKubelet(t, prDir, nil, nil)
	defer k.stop()

	down := &rest.Config{Host: "http://127.0.0.1:1", Timeout: time.Second}
	client, err := kubernetes.NewForConfig(down)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{Client: client, Node: nodeName,
			Backends:           []discovery.Backend{discovery.NewNVML(nvmltest.NewDGXA100(), discovery.WithEventWait(time.Millisecond))},
			PodResourcesSocket: filepath.Join(prDir, "kubelet.sock"), SteerWithPodResources: true,
			ReconcileInterval: time.Second, Heartbeat: time.Hour, WatchInterval: 20 * time.Millisecond,
			CDI: &cdi.Config{Dir: specDir, ToolkitDirs: []string{toolkitDir}}})
	}()
	k.waitForGPUs(gpus*100, gpus*100)

	e := &env{t: t, ctx: ctx, k: k, specDir: specDir, toolkitDir: toolkitDir}
	pod := podWith("offline", 30)
	require.NoError(t, k.admit(ctx, pod))
	e.checkContainers(pod)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not stop")
	}
}

// podWith is a bound pod of one container asking for units, with no
// allocation annotation (no scheduler could write one).
func podWith(name string, units int64) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c0",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{gpuResource(): *quantity(units)}}}}},
	}
}
