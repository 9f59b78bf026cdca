package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/resourceclaim"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/dra/dratest"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/scheduler/apis/config/scheme"
	"github.com/gantry-dev/gantry/test/harness"
)

// TestDRAAdmission: pods keep their simple API in DRA mode. The shipped
// webhook configurations and RBAC, the real bin/gantry-webhook as its
// shipped ServiceAccount, the real bin/gantry-scheduler with the GantryDRA
// profile as its shipped ServiceAccount, and kube-controller-manager's ResourceClaim controller (in
// process) on a real kube-apiserver: a pod asking gantry.dev/gpu-percent in
// a namespace labelled gantry.dev/mode=dra gets a claim from Gantry's
// template, the claim is allocated on the card FGD chooses, and the pod
// binds; a missing template is refused with a command that creates it; a
// pod in a device-plugin namespace keeps its resources.
func TestDRAAdmission(t *testing.T) {
	e := startAdmissionEnv(t, admissionOptions{noScheduler: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp, c := e.cp, e.cp.Client
	startDRAScheduler(t, cp, serviceAccountKubeconfig(t, ctx, cp, t.TempDir(), "gantry-scheduler"))
	startClaimController(t, ctx, c)

	root, err := harness.RepoRoot()
	require.NoError(t, err)
	require.NoError(t, cp.ApplyFiles(ctx, filepath.Join(root, "manifests/dra/deviceclasses.yaml")))
	for name, labels := range map[string]map[string]string{"dra-team": {"gantry.dev/mode": "dra"}, "plugin-team": nil} {
		_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = c.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	// The shipped templates, applied as manifests/dra/claimtemplates.yaml says.
	templates, err := harness.ReadManifests(filepath.Join(root, "manifests/dra/claimtemplates.yaml"))
	require.NoError(t, err)
	for _, o := range templates {
		o.SetNamespace("dra-team")
	}
	require.NoError(t, cp.Apply(ctx, templates...))

	nodes := map[string]string{"a100-a": "A100", "a100-b": "A100", "t4-a": "T4"}
	for n, model := range nodes {
		_, err := harness.CreateReadyNode(ctx, c, harness.NewKWOKNode(n, nil))
		require.NoError(t, err)
		_, err = c.ResourceV1().ResourceSlices().Create(ctx, dratest.MakeSlice(n).GPUs(model, 2, 40<<10).Obj(), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	args, err := scheme.DecodeArgs([]byte(draArgs), field.NewPath("args"))
	require.NoError(t, err)
	fgd, err := policy.New(args.Policy, policy.Options{Workload: policy.Workload(args.Workload)})
	require.NoError(t, err)

	// place creates pod (no schedulerName, as a workload owner writes it)
	// in dra-team and checks that it is rewritten into the claim of
	// template, which is allocated on the node and card FGD prefers.
	place := func(t *testing.T, pod *corev1.Pod, template string) {
		t.Helper()
		req, err := share.Parse(pod)
		require.NoError(t, err)
		cluster := readCluster(t, cp)
		best, scores := int64(-1), map[string]int64{}
		for n := range nodes {
			if _, s, ok := fgd.Score(host(cluster.Nodes[n].State), req); ok {
				scores[n] = s
				best = max(best, s)
			}
		}
		require.NotEmpty(t, scores, "some node fits %s", pod.Name)

		created, err := c.CoreV1().Pods("dra-team").Create(ctx, pod, metav1.CreateOptions{})
		require.NoError(t, err)
		assert.Equal(t, contract.SchedulerName, created.Spec.SchedulerName)
		require.Len(t, created.Spec.ResourceClaims, 1)
		assert.Equal(t, "gantry-main", created.Spec.ResourceClaims[0].Name)
		assert.Equal(t, template, *created.Spec.ResourceClaims[0].ResourceClaimTemplateName)
		res := created.Spec.Containers[0].Resources
		assert.Equal(t, []corev1.ResourceClaim{{Name: "gantry-main"}}, res.Claims)
		_, still := res.Limits[contract.ResourceGPUPercent]
		assert.False(t, still, "gantry.dev/gpu-percent is gone")
		assert.Equal(t, "500m", res.Requests.Cpu().String(), "other requests kept")

		node, results := waitClaimAllocated(t, ctx, c, "dra-team", pod.Name, "gantry-main")
		require.Len(t, results, 1)
		assert.Equal(t, best, scores[node], "%s went to %s, FGD scores %v", pod.Name, node, scores)
		n := cluster.Nodes[node]
		assert.Equal(t, n.DeviceName(coredra.DeviceOrder(host(n.State), req, fgd)[0]), results[0].Device, "%s on %s", pod.Name, node)
		pct := int64(req.Parts[0].Units)
		consumed := results[0].ConsumedCapacity[contract.DRACapacityPercent]
		assert.Equal(t, pct, consumed.Value())
		if models := req.Models[device.GPU]; len(models) > 0 {
			assert.Contains(t, models, nodes[node])
		}
	}
	sharePod := func(name string, pct int64) *coretest.PodWrapper {
		return coretest.MakePod(name).GPUPercent(pct).Requests(500, 128)
	}
	noScheduler := func(w *coretest.PodWrapper) *corev1.Pod {
		p := w.Obj()
		p.Namespace, p.Spec.SchedulerName = "dra-team", ""
		return p
	}

	t.Run("a shipped size is asked through the shipped template", func(t *testing.T) {
		place(t, noScheduler(sharePod("quarter", 25)), "gpu-25")
		place(t, noScheduler(sharePod("half", 50)), "gpu-50")
	})

	t.Run("an odd size is refused with the command that creates its template, then placed", func(t *testing.T) {
		_, err := c.CoreV1().Pods("dra-team").Create(ctx, noScheduler(sharePod("odd", 47)), metav1.CreateOptions{})
		denied(t, err, `admission webhook "dra.pods.gantry.dev" denied the request`,
			`spec.containers[0].resources.limits[gantry.dev/gpu-percent]: Invalid value: "47": namespace "dra-team" is in DRA mode (gantry.dev/mode=dra), so this share is asked through ResourceClaimTemplate "gpu-47", which does not exist there; create it with: printf '%s' '`)
		createFromCommand(t, ctx, c, err)
		place(t, noScheduler(sharePod("odd", 47)), "gpu-47")
	})

	t.Run("a model constraint is asked by CEL and lands on that model", func(t *testing.T) {
		pod := noScheduler(sharePod("t4-only", 30).Models("T4"))
		_, err := c.CoreV1().Pods("dra-team").Create(ctx, pod, metav1.CreateOptions{})
		want := coredra.ClaimTemplateName(coredra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 30}, Models: []string{"T4"}})
		denied(t, err, fmt.Sprintf("ResourceClaimTemplate %q, which does not exist there", want))
		createFromCommand(t, ctx, c, err)
		place(t, noScheduler(sharePod("t4-only", 30).Models("T4")), want)
	})

	t.Run("a pod written with its claim is left as written", func(t *testing.T) {
		p := noScheduler(coretest.MakePod("by-hand").Requests(500, 128))
		p.Spec.SchedulerName = contract.SchedulerName
		p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimTemplateName: ptr.To("gpu-10")}}
		p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
		created, err := c.CoreV1().Pods("dra-team").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
		assert.Equal(t, p.Spec.ResourceClaims, created.Spec.ResourceClaims)
		assert.Equal(t, p.Spec.Containers[0].Resources.Claims, created.Spec.Containers[0].Resources.Claims)
		_, results := waitClaimAllocated(t, ctx, c, "dra-team", "by-hand", "gpu")
		require.Len(t, results, 1)
	})

	t.Run("a pod in a device-plugin namespace keeps its resources", func(t *testing.T) {
		p := sharePod("plugin", 25).Obj()
		p.Namespace, p.Spec.SchedulerName = "plugin-team", ""
		created, err := c.CoreV1().Pods("plugin-team").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
		assert.Empty(t, created.Spec.ResourceClaims)
		assert.Empty(t, created.Spec.Containers[0].Resources.Claims)
		assert.Equal(t, "25", created.Spec.Containers[0].Resources.Limits.Name(contract.ResourceGPUPercent, "").String())
		assert.Equal(t, contract.SchedulerName, created.Spec.SchedulerName, "named by scheduler-name.pods.gantry.dev")
	})

	t.Run("the webhook's identity gets templates and nothing more", func(t *testing.T) {
		sa, err := kubernetes.NewForConfig(serviceAccountConfig(t, ctx, cp, "gantry-webhook"))
		require.NoError(t, err)
		_, err = sa.ResourceV1().ResourceClaimTemplates("dra-team").Get(ctx, "gpu-25", metav1.GetOptions{})
		require.NoError(t, err)
		_, err = sa.ResourceV1().ResourceClaimTemplates("dra-team").List(ctx, metav1.ListOptions{})
		assert.True(t, apierrors.IsForbidden(err), "list templates: %v", err)
		err = sa.ResourceV1().ResourceClaimTemplates("dra-team").Delete(ctx, "gpu-25", metav1.DeleteOptions{})
		assert.True(t, apierrors.IsForbidden(err), "delete a template: %v", err)
		_, err = sa.ResourceV1().ResourceClaims("dra-team").List(ctx, metav1.ListOptions{})
		assert.True(t, apierrors.IsForbidden(err), "list claims: %v", err)
	})
}

// startClaimController runs kube-controller-manager's ResourceClaim
// controller, which creates each pod's claims from its templates, until the
// test ends.
func startClaimController(t *testing.T, ctx context.Context, c kubernetes.Interface) {
	t.Helper()
	ctx, cancel := context.WithCancel(klog.NewContext(ctx, klog.Background().WithName("resourceclaim-controller")))
	f := informers.NewSharedInformerFactory(c, 0)
	ctrl, err := resourceclaim.NewController(klog.FromContext(ctx), c, f.Core().V1().Pods(), f.Scheduling().V1beta1().PodGroups(),
		f.Resource().V1().ResourceClaims(), f.Resource().V1().ResourceClaimTemplates())
	require.NoError(t, err)
	f.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctrl.Run(ctx, 2)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		f.Shutdown()
	})
}

// createFromCommand creates the template that the refusal's command
// applies, in the namespace it names.
func createFromCommand(t *testing.T, ctx context.Context, c kubernetes.Interface, refusal error) {
	t.Helper()
	_, rest, ok := strings.Cut(refusal.Error(), "printf '%s' '")
	require.True(t, ok, "no command in %v", refusal)
	doc, rest, ok := strings.Cut(rest, "' | kubectl apply -n ")
	require.True(t, ok, "no command in %v", refusal)
	ns, _, _ := strings.Cut(rest, " ")
	var tmpl resourceapi.ResourceClaimTemplate
	require.NoError(t, json.Unmarshal([]byte(doc), &tmpl))
	_, err := c.ResourceV1().ResourceClaimTemplates(ns).Create(ctx, &tmpl, metav1.CreateOptions{})
	require.NoError(t, err)
}

// waitClaimAllocated waits until pod is bound and the claim made for its
// pod claim podClaim is allocated, and returns the node and the claim's
// results for Gantry devices.
func waitClaimAllocated(t *testing.T, ctx context.Context, c kubernetes.Interface, ns, pod, podClaim string) (string, []resourceapi.DeviceRequestAllocationResult) {
	t.Helper()
	var (
		node    string
		results []resourceapi.DeviceRequestAllocationResult
		last    string
	)
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		var claim string
		for _, s := range p.Status.ResourceClaimStatuses {
			if s.Name == podClaim && s.ResourceClaimName != nil {
				claim = *s.ResourceClaimName
			}
		}
		last = fmt.Sprintf("node %q, claim %q, conditions %+v", p.Spec.NodeName, claim, p.Status.Conditions)
		if p.Spec.NodeName == "" || claim == "" {
			return false, nil
		}
		cl, err := c.ResourceV1().ResourceClaims(ns).Get(ctx, claim, metav1.GetOptions{})
		if err != nil || cl.Status.Allocation == nil {
			return false, nil
		}
		node, results = p.Spec.NodeName, nil
		for _, r := range cl.Status.Allocation.Devices.Results {
			if r.Driver == contract.DRADriver {
				require.Equal(t, node, r.Pool, "claim %s allocated off the pod's node", cl.Name)
				results = append(results, r)
			}
		}
		return true, nil
	})
	require.NoError(t, err, "pod %s/%s not bound with its claim allocated: %s", ns, pod, last)
	return node, results
}
