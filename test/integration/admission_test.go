package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/test/harness"
)

// tenantClient is a user "tenant" who may create and change pods in the
// default namespace (as any workload owner may), nothing else.
func tenantClient(t *testing.T, ctx context.Context, cp *harness.ControlPlane) kubernetes.Interface {
	t.Helper()
	_, err := cp.Client.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: "default"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "create", "update", "patch"}},
			// A tenant running a scheduler of its own.
			{APIGroups: []string{""}, Resources: []string{"pods/binding"}, Verbs: []string{"create"}},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = cp.Client.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: "default"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "tenant"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "tenant"}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	cfg, err := cp.UserConfig("tenant")
	require.NoError(t, err)
	c, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return c
}

// claimAll is an intent holding every card of node whole.
func claimAll(t *testing.T, node *corev1.Node) string {
	t.Helper()
	inv, err := contract.InventoryOf(node)
	require.NoError(t, err)
	ca := contract.ContainerAllocation{Container: "main", Kind: device.GPU}
	for _, d := range inv.Devices {
		ca.Devices = append(ca.Devices, contract.DeviceShare{ID: d.ID, Index: d.Index, Units: 100})
	}
	v, err := contract.EncodeAllocation(contract.Allocation{Node: node.Name, Containers: []contract.ContainerAllocation{ca}})
	require.NoError(t, err)
	return v
}

func waitPodBound(t *testing.T, client kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	e := &env{client: client}
	return e.waitBound(t, ns, name, 30*time.Second)
}

// TestForgedIntentBlocksNothing: a CPU-only tenant pod on node n carries a
// forged intent claiming both of n's cards (created before the webhook was
// installed). A pod asking for both cards is still placed on n, by the real
// gantry-scheduler running as its shipped ServiceAccount; and once the
// webhook is in place, the same forgery is refused at creation.
func TestForgedIntentBlocksNothing(t *testing.T) {
	node := coretest.MakeNode("n").GPUs("T4", 2, 16384).Obj()
	forgery := claimAll(t, node)
	e := startAdmissionEnv(t, admissionOptions{beforeAdmission: func(t *testing.T, cp *harness.ControlPlane) {
		ctx := context.Background()
		_, err := harness.CreateReadyNode(ctx, cp.Client, node)
		require.NoError(t, err)
		tenant := coretest.MakePod("forged").Requests(100, 64).Node("n").Annotation(contract.AnnotationAllocation, forgery).Obj()
		_, err = cp.Client.CoreV1().Pods("default").Create(ctx, tenant, metav1.CreateOptions{})
		require.NoError(t, err)
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	_, err := e.client.CoreV1().Pods("default").Create(ctx, coretest.MakePod("gpu").GPUPercent(200).Obj(), metav1.CreateOptions{})
	require.NoError(t, err)
	bound := waitPodBound(t, e.client, "default", "gpu")
	require.Equal(t, "n", bound.Spec.NodeName)
	a := allocationOf(t, bound)
	require.Len(t, a.Containers, 1)
	assert.Len(t, a.Containers[0].Devices, 2, "both cards, though the forgery claims them")

	tenant := tenantClient(t, ctx, e.cp)
	again := coretest.MakePod("forged-again").Requests(100, 64).Annotation(contract.AnnotationAllocation, forgery).Obj()
	_, err = tenant.CoreV1().Pods("default").Create(ctx, again, metav1.CreateOptions{})
	denied(t, err, `admission webhook "authority.pods.gantry.dev" denied the request`,
		`gantry.dev/allocation of pod default/forged-again refused for user "tenant": only Gantry's scheduler and node agent may set or change it`)
	require.True(t, apierrors.IsForbidden(err), "err = %v", err)

	// Nor may the tenant forge the node agent's record on a running pod.
	_, err = tenant.CoreV1().Pods("default").Patch(ctx, "gpu", types.MergePatchType,
		[]byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, contract.AnnotationAllocated, forgery)), metav1.PatchOptions{})
	denied(t, err, `gantry.dev/allocated of pod default/gpu refused for user "tenant"`)
}

// TestAdmissionWebhook exercises the shipped webhook, served by the real
// bin/gantry-webhook over TLS with its self-managed certificate.
func TestAdmissionWebhook(t *testing.T) {
	e := startAdmissionEnv(t, admissionOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	(&env{client: e.client}).createNodes(t, coretest.MakeNode("t4").GPUs("T4", 4, 16384).Obj())
	tenant := tenantClient(t, ctx, e.cp)

	t.Run("the webhook keeps its own caBundle", func(t *testing.T) {
		mw, err := e.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "gantry-webhook", metav1.GetOptions{})
		require.NoError(t, err)
		sec, err := e.client.CoreV1().Secrets(shippedNamespace).Get(ctx, "gantry-webhook-tls", metav1.GetOptions{})
		require.NoError(t, err)
		for _, w := range mw.Webhooks {
			require.Equal(t, string(sec.Data["ca-bundle.crt"]), string(w.ClientConfig.CABundle), w.Name)
		}
	})

	t.Run("a malformed request is refused at apply with the field path", func(t *testing.T) {
		bad := &unstructured.Unstructured{}
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(coretest.MakePod("bad").GPUPercent(150).Obj())
		require.NoError(t, err)
		bad.Object = obj
		bad.SetAPIVersion("v1")
		bad.SetKind("Pod")
		bad.SetUID("")
		cfg, err := e.cp.UserConfig("tenant")
		require.NoError(t, err)
		err = harness.ApplyWith(ctx, cfg, bad)
		denied(t, err, `admission webhook "requests.pods.gantry.dev" denied the request`,
			"spec.containers[0].resources.limits[gantry.dev/gpu-percent]: Invalid value: 150: above 100 must be a whole multiple of 100 (whole devices); 150 is 1.50 devices")
	})

	t.Run("a pod without schedulerName asking for a share is scheduled by gantry-scheduler", func(t *testing.T) {
		p := coretest.MakePod("no-scheduler").GPUPercent(30).Obj()
		p.Spec.SchedulerName = ""
		created, err := tenant.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
		require.Equal(t, contract.SchedulerName, created.Spec.SchedulerName)
		bound := waitPodBound(t, e.client, "default", "no-scheduler")
		require.Equal(t, "t4", bound.Spec.NodeName)
		a := allocationOf(t, bound)
		require.Equal(t, 30, a.Containers[0].Devices[0].Units, "placed by Gantry: it carries Gantry's intent")
	})

	t.Run("a pod that does not use Gantry is untouched", func(t *testing.T) {
		p := coretest.MakePod("plain").Requests(100, 64).Obj()
		p.Spec.SchedulerName = ""
		created, err := tenant.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
		require.Equal(t, corev1.DefaultSchedulerName, created.Spec.SchedulerName)
	})

	t.Run("nvidia.com/gpu is translated in a namespace that opts in", func(t *testing.T) {
		_, err := e.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: "migrating", Labels: map[string]string{"gantry.dev/translate-nvidia-gpu": "true"}}}, metav1.CreateOptions{})
		require.NoError(t, err)
		p := coretest.MakePod("legacy").Limit("nvidia.com/gpu", "1").Obj()
		p.Namespace, p.Spec.SchedulerName = "migrating", ""
		created, err := e.client.CoreV1().Pods("migrating").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
		require.Equal(t, contract.SchedulerName, created.Spec.SchedulerName)
		lim := created.Spec.Containers[0].Resources.Limits
		require.Equal(t, "100", lim.Name(contract.ResourceGPUPercent, "").String())
		_, still := lim["nvidia.com/gpu"]
		require.False(t, still)
		bound := waitPodBound(t, e.client, "migrating", "legacy")
		require.Equal(t, "t4", bound.Spec.NodeName)

		// Elsewhere nvidia.com/gpu is left alone.
		p = coretest.MakePod("legacy").Limit("nvidia.com/gpu", "1").Obj()
		p.Spec.SchedulerName = ""
		created, err = e.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
		_, kept := created.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"]
		require.True(t, kept)
	})

	t.Run("an update that makes a share malformed is refused with the field path; others are not", func(t *testing.T) {
		patch := func(annotations string) error {
			_, err := tenant.CoreV1().Pods("default").Patch(ctx, "no-scheduler", types.MergePatchType,
				[]byte(`{"metadata":{"annotations":`+annotations+`}}`), metav1.PatchOptions{})
			return err
		}
		denied(t, patch(`{"gantry.dev/gpu-models":"T4;x"}`), `admission webhook "requests.pods.gantry.dev" denied the request`,
			`metadata.annotations[gantry.dev/gpu-models]: Invalid value: "T4;x": model "T4;x" is not a valid model name`)
		denied(t, patch(`{"gantry.dev/isolation":"hami"}`), `admission webhook "requests.pods.gantry.dev" denied the request`,
			`metadata.annotations[gantry.dev/isolation]: Unsupported value: "hami"`)
		require.NoError(t, patch(`{"gantry.dev/gpu-models":"T4"}`))
		require.NoError(t, patch(`{"team":"a"}`))
		got, err := e.client.CoreV1().Pods("default").Get(ctx, "no-scheduler", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, "T4", got.Annotations[contract.AnnotationGPUModels])
	})

	t.Run("a Binding carrying an intent is refused unless gantry-scheduler sends it", func(t *testing.T) {
		p := coretest.MakePod("own-scheduler").GPUPercent(10).Obj()
		p.Spec.SchedulerName = "tenant-scheduler"
		_, err := tenant.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
		err = tenant.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: "own-scheduler", Namespace: "default",
				Annotations: map[string]string{contract.AnnotationAllocation: `{"v":"v1","node":"t4","containers":[]}`}},
			Target: corev1.ObjectReference{Kind: "Node", Name: "t4"},
		}, metav1.CreateOptions{})
		denied(t, err, `admission webhook "authority.pods.gantry.dev" denied the request`, `refused for user "tenant"`)
	})

	t.Run("the webhook's identity reaches only its own Secret and configurations", func(t *testing.T) {
		cfg := serviceAccountConfig(t, ctx, e.cp, "gantry-webhook")
		c, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		_, err = c.CoreV1().Secrets(shippedNamespace).Get(ctx, "gantry-webhook-tls", metav1.GetOptions{})
		require.NoError(t, err)
		_, err = c.CoreV1().Secrets(shippedNamespace).List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "list secrets: %v", err)
		_, err = c.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
		require.True(t, apierrors.IsForbidden(err), "create a secret elsewhere: %v", err)
		_, err = c.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "gantry-webhook", metav1.GetOptions{})
		require.NoError(t, err)
		_, err = c.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "list webhook configurations: %v", err)
		_, err = c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		require.True(t, apierrors.IsForbidden(err), "list pods: %v", err)
	})

	t.Run("the webhook's outage blocks no pod that does not use Gantry", func(t *testing.T) {
		require.NoError(t, e.webhook.Stop())
		p := coretest.MakePod("during-outage").Requests(100, 64).Obj()
		_, err := tenant.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err, "matchConditions keep the webhook out of this pod's way")
		_, err = tenant.CoreV1().Pods("default").Create(ctx, coretest.MakePod("gantry-during-outage").GPUPercent(10).Obj(), metav1.CreateOptions{})
		require.NoError(t, err, "requests.pods.gantry.dev fails open; the scheduler checks the same")
		p = coretest.MakePod("gantry-default-during-outage").GPUPercent(10).Obj()
		p.Spec.SchedulerName = ""
		_, err = tenant.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		denied(t, err, "scheduler-name.pods.gantry.dev", "failed calling webhook")
	})
}
