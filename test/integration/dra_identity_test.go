package integration

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2/ktesting"

	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/dra/dratest"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/dra"
	"github.com/gantry-dev/gantry/test/harness"
)

// TestDRADriverIdentityIsScopedToItsNode applies the shipped RBAC and
// admission policy of DRA mode and acts with a real token of the DRA-mode
// agent's service account gantry-dra-driver bound to its pod on n1: the
// driver publishes n1's slice, and the identity can write no other node's
// slice and no other driver's, and has none of device-plugin mode's node
// and pod writes; device-plugin mode's identity writes no slice.
func TestDRADriverIdentityIsScopedToItsNode(t *testing.T) {
	cp := harness.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, cp.ApplyFiles(ctx, "manifests/deviceplugin/rbac.yaml", "manifests/dra/driver-rbac.yaml"))
	const sa = "gantry-dra-driver"
	for _, n := range []string{"n1", "n2"} {
		_, err := harness.CreateReadyNode(ctx, cp.Client, harness.NewKWOKNode(n, nil))
		require.NoError(t, err)
	}
	pod, err := cp.Client.CoreV1().Pods("kube-system").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry-dra-driver-n1", Namespace: "kube-system"},
		Spec: corev1.PodSpec{NodeName: "n1", ServiceAccountName: sa,
			Containers: []corev1.Container{{Name: "agent", Image: "gantry-device-plugin"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	cfg, err := cp.ServiceAccountConfig(ctx, "kube-system", sa, harness.BoundToPod(pod))
	require.NoError(t, err)
	agent, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	create := func(s *resourceapi.ResourceSlice) error {
		_, err := agent.ResourceV1().ResourceSlices().Create(ctx, s, metav1.CreateOptions{})
		return err
	}
	// The policy takes a moment to be enforced after it is created.
	other := dratest.MakeSlice("n2").GPUs("A100", 1, 1024).Obj()
	var denied error
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		denied = create(other)
		if denied == nil {
			require.NoError(t, cp.Client.ResourceV1().ResourceSlices().Delete(ctx, other.Name, metav1.DeleteOptions{}))
			return false, nil
		}
		return true, nil
	}))
	require.True(t, apierrors.IsForbidden(denied), "got %v", denied)
	require.ErrorContains(t, denied, "gantry-dra-driver may only write the ResourceSlices of its own node (the node in its token)")

	foreign := dratest.MakeSlice("n1").Name("n1-nic").Obj()
	foreign.Spec.Driver = "nic.example.com"
	err = create(foreign)
	require.True(t, apierrors.IsForbidden(err), "got %v", err)
	require.ErrorContains(t, err, "gantry-dra-driver may only write ResourceSlices of the driver gpu.gantry.dev")

	_, err = agent.ResourceV1().ResourceClaims("default").List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "listing claims: %v", err)
	_, err = agent.ResourceV1().ResourceClaims("default").Get(ctx, "none", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "getting a claim: %v", err)

	// None of device-plugin mode's writes: a DRA-mode agent patches no
	// Node and no pod.
	_, err = agent.CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType, []byte(`{"metadata":{"annotations":{"gantry.dev/inventory":"{}"}}}`), metav1.PatchOptions{})
	require.True(t, apierrors.IsForbidden(err), "patching its own Node: %v", err)
	_, err = agent.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "listing pods: %v", err)
	// And device-plugin mode's identity, even bound to a pod on n1, writes
	// no slice.
	dpPod, err := cp.Client.CoreV1().Pods("kube-system").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry-device-plugin-n1", Namespace: "kube-system"},
		Spec: corev1.PodSpec{NodeName: "n1", ServiceAccountName: "gantry-device-plugin",
			Containers: []corev1.Container{{Name: "agent", Image: "gantry-device-plugin"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	dpCfg, err := cp.ServiceAccountConfig(ctx, "kube-system", "gantry-device-plugin", harness.BoundToPod(dpPod))
	require.NoError(t, err)
	dp, err := kubernetes.NewForConfig(dpCfg)
	require.NoError(t, err)
	_, err = dp.ResourceV1().ResourceSlices().Create(ctx, dratest.MakeSlice("n1").Name("n1-dp").Obj(), metav1.CreateOptions{})
	require.True(t, apierrors.IsForbidden(err), "device-plugin mode creating a slice: %v", err)

	// The driver itself, with that identity, publishes n1's cards.
	_, dctx := ktesting.NewTestContext(t)
	dctx, dcancel := context.WithCancel(dctx)
	defer dcancel()
	dir := t.TempDir()
	w, err := cdi.New(cdi.Config{Dir: filepath.Join(dir, "cdi"), ToolkitDirs: []string{dir}})
	require.NoError(t, err)
	cards := []device.Device{{ID: "GPU-a", Index: 0, Kind: device.GPU, Vendor: "test", Model: "A100", MemoryMiB: 80 << 10, Health: device.Healthy, NUMANode: 0}}
	require.NoError(t, w.Sync([]cdi.Card{{Device: cards[0], DeviceNodes: []string{"/dev/null"}}}))
	d, err := dra.New(dra.Config{NodeName: "n1", KubeClient: agent, Devices: cards, CDI: w,
		PluginDataDir: filepath.Join(dir, "plugin"), RegistrarDir: filepath.Join(dir, "registry")})
	require.NoError(t, err)
	require.NoError(t, d.Start(dctx))
	defer d.Stop()
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		l, err := cp.Client.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		var mine []*resourceapi.ResourceSlice
		for i := range l.Items {
			if l.Items[i].Spec.Driver == "gpu.gantry.dev" {
				mine = append(mine, &l.Items[i])
			}
		}
		c := coredra.Build(mine, nil)
		return c.Nodes["n1"] != nil && len(c.Nodes["n1"].State.Devices) == 1, nil
	}), "the driver did not publish n1's slice under its own identity")
}
