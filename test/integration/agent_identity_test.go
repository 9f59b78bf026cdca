package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/publish"
	"github.com/gantry-dev/gantry/deviceplugin/reconcile"
	"github.com/gantry-dev/gantry/test/harness"
)

// staticDevices is the agent's inventory source.
type staticDevices struct{ inv device.Inventory }

func (s staticDevices) Snapshot() (device.Inventory, <-chan struct{}) { return s.inv, nil }

// kubeletPodResources answers as kubelet's PodResources API would for the
// pods it admitted (kubelet itself does not run here; the identity under
// test is the API client's).
type kubeletPodResources struct {
	resp *podresourcesv1.ListPodResourcesResponse
}

func (k kubeletPodResources) List(context.Context) (*podresourcesv1.ListPodResourcesResponse, error) {
	return k.resp, nil
}

// TestAgentIdentityIsScopedToItsNode runs the node agent's publisher and
// reconciler with the shipped gantry-device-plugin ServiceAccount, its
// token bound to the agent's pod on n1 (so it carries the node claim), under
// the shipped RBAC, ValidatingAdmissionPolicy and webhook. It does its job on
// n1; everything else is denied with the policy's message.
func TestAgentIdentityIsScopedToItsNode(t *testing.T) {
	n1 := coretest.MakeNode("n1").GPUs("T4", 2, 16384)
	inv := n1.Inventory()
	// A CPU-only pod on n1 whose intent claims a card, written before the
	// webhook was installed.
	forged, err := contract.EncodeAllocation(contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{{
		Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: inv.Devices[1].ID, Index: 1, Units: 100}}}}})
	require.NoError(t, err)
	e := startAdmissionEnv(t, admissionOptions{noScheduler: true, beforeAdmission: func(t *testing.T, cp *harness.ControlPlane) {
		_, err := cp.Client.CoreV1().Pods("default").Create(context.Background(),
			coretest.MakePod("cpu-forged").Requests(100, 64).Node("n1").Annotation(contract.AnnotationAllocation, forged).Obj(), metav1.CreateOptions{})
		require.NoError(t, err)
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, name := range []string{"n1", "n2"} {
		_, err := harness.CreateReadyNode(ctx, e.client, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
		require.NoError(t, err)
	}
	agentPod, err := e.client.CoreV1().Pods(shippedNamespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "gantry-device-plugin-n1", Namespace: shippedNamespace},
		Spec: corev1.PodSpec{NodeName: "n1", ServiceAccountName: "gantry-device-plugin",
			Containers: []corev1.Container{{Name: "agent", Image: "gantry-device-plugin"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	agentCfg := serviceAccountConfig(t, ctx, e.cp, "gantry-device-plugin", harness.BoundToPod(agentPod))
	agent, err := kubernetes.NewForConfig(agentCfg)
	require.NoError(t, err)

	// A tenant's GPU pod on each node, as the scheduler left them.
	intent := func(node string) string {
		v, err := contract.EncodeAllocation(contract.Allocation{Node: node, Containers: []contract.ContainerAllocation{{
			Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: inv.Devices[0].ID, Index: 0, Units: 30}}}}})
		require.NoError(t, err)
		return v
	}
	for _, node := range []string{"n1", "n2"} {
		_, err := e.client.CoreV1().Pods("default").Create(ctx, coretest.MakePod("gpu-"+node).GPUPercent(30).Node(node).Obj(), metav1.CreateOptions{})
		require.NoError(t, err)
	}

	t.Run("publishes its own Node's inventory and labels", func(t *testing.T) {
		p := &publish.Publisher{Client: agent, Node: "n1", Source: staticDevices{inv}}
		changed, err := p.Publish(ctx, inv)
		require.NoError(t, err)
		require.True(t, changed)
		got, err := e.client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		require.NoError(t, err)
		back, err := contract.InventoryOf(got)
		require.NoError(t, err)
		require.Len(t, back.Devices, 2)
		require.Equal(t, "T4", got.Labels[contract.LabelGPUModel])
	})

	t.Run("records what kubelet gave pods on its node and removes a forged intent", func(t *testing.T) {
		f := informers.NewSharedInformerFactoryWithOptions(agent, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "spec.nodeName=n1"
		}))
		lister := f.Core().V1().Pods().Lister()
		stop := make(chan struct{})
		f.Start(stop)
		defer func() { close(stop); f.Shutdown() }()
		f.WaitForCacheSync(ctx.Done())
		var ids []string
		for s := 0; s < 30; s++ {
			ids = append(ids, contract.SlotID(inv.Devices[0].ID, s))
		}
		r := &reconcile.Reconciler{Client: agent, Node: "n1", Pods: lister, Devices: staticDevices{inv},
			PodResources: kubeletPodResources{&podresourcesv1.ListPodResourcesResponse{PodResources: []*podresourcesv1.PodResources{{
				Namespace: "default", Name: "gpu-n1",
				Containers: []*podresourcesv1.ContainerResources{{Name: "main", Devices: []*podresourcesv1.ContainerDevices{
					{ResourceName: string(contract.ResourceGPUPercent), DeviceIds: ids}}}},
			}, {
				// Admitted without any device.
				Namespace: "default", Name: "cpu-forged",
				Containers: []*podresourcesv1.ContainerResources{{Name: "main"}},
			}}}}}
		res, err := r.RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, reconcile.Result{Recorded: 1, Removed: 1}, res)
		got, err := e.client.CoreV1().Pods("default").Get(ctx, "gpu-n1", metav1.GetOptions{})
		require.NoError(t, err)
		require.Contains(t, got.Annotations, contract.AnnotationAllocated)
		got, err = e.client.CoreV1().Pods("default").Get(ctx, "cpu-forged", metav1.GetOptions{})
		require.NoError(t, err)
		require.NotContains(t, got.Annotations, contract.AnnotationAllocation, "the forged intent is removed")
	})

	t.Run("records events as the agent does", func(t *testing.T) {
		b := record.NewBroadcaster()
		defer b.Shutdown()
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: agent.CoreV1().Events("")})
		pod, err := e.client.CoreV1().Pods("default").Get(ctx, "gpu-n1", metav1.GetOptions{})
		require.NoError(t, err)
		b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "gantry-device-plugin", Host: "n1"}).
			Eventf(pod, corev1.EventTypeWarning, reconcile.ReasonAllocationDiffers, "probe")
		require.Eventually(t, func() bool {
			evs, err := e.client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false
			}
			for _, ev := range evs.Items {
				if ev.Reason == reconcile.ReasonAllocationDiffers && ev.InvolvedObject.Name == "gpu-n1" {
					return true
				}
			}
			return false
		}, 10*time.Second, 50*time.Millisecond, "the agent's event was not recorded")
	})

	merge := func(kv map[string]any) []byte {
		b := fmt.Sprintf(`{"metadata":%s}`, mustJSON(t, kv))
		return []byte(b)
	}
	denials := []struct {
		name  string
		write func() error
		want  string
	}{
		{"another node's inventory", func() error {
			_, err := agent.CoreV1().Nodes().Patch(ctx, "n2", types.MergePatchType,
				merge(map[string]any{"annotations": map[string]string{contract.AnnotationInventory: "{}"}}), metav1.PatchOptions{})
			return err
		}, "gantry-device-plugin may only patch its own Node (the node in its token)"},
		{"a non-Gantry label on its own node", func() error {
			_, err := agent.CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType,
				merge(map[string]any{"labels": map[string]string{"team": "mine"}}), metav1.PatchOptions{})
			return err
		}, "gantry-device-plugin may only change gantry.dev/ labels and annotations of its Node"},
		{"its own node's spec", func() error {
			_, err := agent.CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`), metav1.PatchOptions{})
			return err
		}, "gantry-device-plugin may only change gantry.dev/ labels and annotations of its Node"},
		{"a pod on another node", func() error {
			_, err := agent.CoreV1().Pods("default").Patch(ctx, "gpu-n2", types.MergePatchType,
				merge(map[string]any{"annotations": map[string]string{contract.AnnotationAllocated: intent("n2")}}), metav1.PatchOptions{})
			return err
		}, "gantry-device-plugin may only patch pods bound to its own node"},
		{"a non-Gantry key on a pod of its node", func() error {
			_, err := agent.CoreV1().Pods("default").Patch(ctx, "gpu-n1", types.MergePatchType,
				merge(map[string]any{"labels": map[string]string{"owner": "agent"}}), metav1.PatchOptions{})
			return err
		}, "gantry-device-plugin may only change the gantry.dev/allocated annotation of a pod"},
		{"a pod's image", func() error {
			_, err := agent.CoreV1().Pods("default").Patch(ctx, "gpu-n1", types.StrategicMergePatchType,
				[]byte(`{"spec":{"containers":[{"name":"main","image":"evil"}]}}`), metav1.PatchOptions{})
			return err
		}, "gantry-device-plugin may only change the gantry.dev/allocated annotation of a pod"},
		{"the scheduler's intent", func() error {
			_, err := agent.CoreV1().Pods("default").Patch(ctx, "gpu-n1", types.MergePatchType,
				merge(map[string]any{"annotations": map[string]string{contract.AnnotationAllocation: intent("n1")}}), metav1.PatchOptions{})
			return err
		}, "gantry-device-plugin may remove but never set or change a pod's gantry.dev/allocation"},
		{"a token without the node claim", func() error {
			cfg := serviceAccountConfig(t, ctx, e.cp, "gantry-device-plugin")
			c, err := kubernetes.NewForConfig(cfg)
			require.NoError(t, err)
			_, err = c.CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType,
				merge(map[string]any{"annotations": map[string]string{contract.AnnotationInventory: "{}"}}), metav1.PatchOptions{})
			return err
		}, "no authentication.kubernetes.io/node-name claim"},
		{"deleting a pod (RBAC)", func() error {
			return agent.CoreV1().Pods("default").Delete(ctx, "gpu-n1", metav1.DeleteOptions{})
		}, `cannot delete resource "pods"`},
	}
	for _, d := range denials {
		t.Run("denied: "+d.name, func(t *testing.T) {
			err := d.write()
			require.True(t, apierrors.IsForbidden(err) || apierrors.IsInvalid(err), "err = %v", err)
			denied(t, err, d.want)
		})
	}

	// Last: it leaves n1 without an inventory.
	t.Run("withdraws its own Node's inventory and labels when the node moves to DRA mode", func(t *testing.T) {
		p := &publish.Publisher{Client: agent, Node: "n1", Source: staticDevices{inv}}
		require.NoError(t, p.Withdraw(ctx))
		got, err := e.client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		require.NoError(t, err)
		require.NotContains(t, got.Annotations, contract.AnnotationInventory)
		require.NotContains(t, got.Labels, contract.LabelGPUModel)
	})
}
