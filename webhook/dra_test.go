package webhook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
)

// tmpl is Gantry's template for a share in namespace default.
func tmpl(k device.Kind, count, units int, models []string, iso device.Isolation) *resourceapi.ResourceClaimTemplate {
	return dra.ClaimTemplate("default", dra.TemplateShare{Part: share.Part{Kind: k, Count: count, Units: units}, Models: models, Isolation: iso})
}

// draConfig is testConfig reading templates from a fake API holding objs.
func draConfig(objs ...runtime.Object) (Config, *fake.Clientset) {
	c := fake.NewClientset(objs...)
	cfg := testConfig()
	cfg.ClaimTemplates = c.ResourceV1()
	return cfg, c
}

// podClaim is a pod claim from a template.
func podClaim(name, template string) corev1.PodResourceClaim {
	return corev1.PodResourceClaim{Name: name, ResourceClaimTemplateName: ptr.To(template)}
}

// rewritten is pod as the rewrite should leave it: the Gantry resources
// of each container in claims replaced by a claim of that name, the pod
// claims appended, gantry-scheduler named.
func rewritten(pod *corev1.Pod, claims map[string]string, podClaims ...corev1.PodResourceClaim) *corev1.Pod {
	out := pod.DeepCopy()
	for i := range out.Spec.Containers {
		c := &out.Spec.Containers[i]
		name, ok := claims[c.Name]
		if !ok {
			continue
		}
		for _, k := range device.Kinds {
			delete(c.Resources.Limits, contract.ResourceFor(k))
			delete(c.Resources.Requests, contract.ResourceFor(k))
		}
		if len(c.Resources.Limits) == 0 {
			c.Resources.Limits = nil
		}
		if len(c.Resources.Requests) == 0 {
			c.Resources.Requests = nil
		}
		c.Resources.Claims = append(c.Resources.Claims, corev1.ResourceClaim{Name: name})
	}
	out.Spec.ResourceClaims = append(out.Spec.ResourceClaims, podClaims...)
	out.Spec.SchedulerName = contract.SchedulerName
	return out
}

func defaultScheduler(w *coretest.PodWrapper) *corev1.Pod {
	return withScheduler(w.Obj(), corev1.DefaultSchedulerName)
}

func withClaims(p *corev1.Pod, container int, podClaims ...corev1.PodResourceClaim) *corev1.Pod {
	p.Spec.ResourceClaims = append(p.Spec.ResourceClaims, podClaims...)
	for _, pc := range podClaims {
		p.Spec.Containers[container].Resources.Claims = append(p.Spec.Containers[container].Resources.Claims, corev1.ResourceClaim{Name: pc.Name})
	}
	return p
}

func TestRewriteDRA(t *testing.T) {
	gpu25 := tmpl(device.GPU, 1, 25, nil, "")
	models := []string{"V100M16", "V100M32"}
	templates := []runtime.Object{
		gpu25, tmpl(device.GPU, 2, 100, nil, ""), tmpl(device.NPU, 1, 50, nil, ""),
		tmpl(device.GPU, 1, 47, models, ""), tmpl(device.GPU, 1, 30, nil, device.IsolationMPS),
		tmpl(device.GPU, 1, 100, []string{"A100"}, device.IsolationMIG),
	}
	nic := corev1.PodResourceClaim{Name: "nic", ResourceClaimName: ptr.To("my-nic")}
	long := strings.Repeat("c", 60)
	tests := []struct {
		name string
		pod  *corev1.Pod
		want *corev1.Pod // nil: no patch
	}{
		{name: "a quarter of a GPU references the shipped gpu-25",
			pod:  defaultScheduler(coretest.MakePod("p").GPUPercent(25).Requests(500, 128)),
			want: rewritten(defaultScheduler(coretest.MakePod("p").GPUPercent(25).Requests(500, 128)), map[string]string{"main": "gantry-main"}, podClaim("gantry-main", "gpu-25"))},
		{name: "two whole GPUs are one claim of two cards",
			pod:  defaultScheduler(coretest.MakePod("p").GPUPercent(200)),
			want: rewritten(defaultScheduler(coretest.MakePod("p").GPUPercent(200)), map[string]string{"main": "gantry-main"}, podClaim("gantry-main", "gpu-200"))},
		{name: "an NPU share uses the NPU class",
			pod:  defaultScheduler(coretest.MakePod("p").NPUPercent(50)),
			want: rewritten(defaultScheduler(coretest.MakePod("p").NPUPercent(50)), map[string]string{"main": "gantry-main"}, podClaim("gantry-main", "npu-50"))},
		{name: "model constraints select by CEL; the annotation stays for the policy",
			pod: defaultScheduler(coretest.MakePod("p").GPUPercent(47).Models("V100M32|V100M16")),
			want: rewritten(defaultScheduler(coretest.MakePod("p").GPUPercent(47).Models("V100M32|V100M16")), map[string]string{"main": "gantry-main"},
				podClaim("gantry-main", dra.ClaimTemplateName(dra.TemplateShare{Part: share.Part{Kind: device.GPU, Count: 1, Units: 47}, Models: models})))},
		{name: "isolation selects by CEL",
			pod:  defaultScheduler(coretest.MakePod("p").GPUPercent(30).Annotation(contract.AnnotationIsolation, "mps")),
			want: rewritten(defaultScheduler(coretest.MakePod("p").GPUPercent(30).Annotation(contract.AnnotationIsolation, "mps")), map[string]string{"main": "gantry-main"}, podClaim("gantry-main", "gpu-30-mps"))},
		{name: "a whole MIG A100",
			pod: defaultScheduler(coretest.MakePod("p").GPUPercent(100).Models("A100").Annotation(contract.AnnotationIsolation, "mig")),
			want: rewritten(defaultScheduler(coretest.MakePod("p").GPUPercent(100).Models("A100").Annotation(contract.AnnotationIsolation, "mig")), map[string]string{"main": "gantry-main"},
				podClaim("gantry-main", tmpl(device.GPU, 1, 100, []string{"A100"}, device.IsolationMIG).Name))},
		{name: "each container gets its own claim",
			pod: defaultScheduler(coretest.MakePod("p").GPUPercent(25).Container("side").NPUPercent(50).Container("plain").Requests(100, 10)),
			want: rewritten(defaultScheduler(coretest.MakePod("p").GPUPercent(25).Container("side").NPUPercent(50).Container("plain").Requests(100, 10)),
				map[string]string{"main": "gantry-main", "side": "gantry-side"}, podClaim("gantry-main", "gpu-25"), podClaim("gantry-side", "npu-50"))},
		{name: "the pod's own claims are kept and Gantry's appended",
			pod:  withClaims(defaultScheduler(coretest.MakePod("p").GPUPercent(25)), 0, nic),
			want: rewritten(withClaims(defaultScheduler(coretest.MakePod("p").GPUPercent(25)), 0, nic), map[string]string{"main": "gantry-main"}, podClaim("gantry-main", "gpu-25"))},
		{name: "a container name too long for a claim name uses its index",
			pod:  defaultScheduler(coretest.MakePod("p").Container(long).GPUPercent(25)),
			want: rewritten(defaultScheduler(coretest.MakePod("p").Container(long).GPUPercent(25)), map[string]string{long: "gantry-1"}, podClaim("gantry-1", "gpu-25"))},
		{name: "a scheduler named on purpose is kept",
			pod: withScheduler(coretest.MakePod("p").GPUPercent(25).Obj(), "volcano"),
			want: func() *corev1.Pod {
				p := rewritten(coretest.MakePod("p").GPUPercent(25).Obj(), map[string]string{"main": "gantry-main"}, podClaim("gantry-main", "gpu-25"))
				p.Spec.SchedulerName = "volcano"
				return p
			}()},
		{name: "a pod written with claims is left as written",
			pod: withClaims(defaultScheduler(coretest.MakePod("p").Models("A100")), 0, podClaim("gpu", "gpu-25"))},
		{name: "a pod asking no Gantry device is left alone", pod: defaultScheduler(coretest.MakePod("p").Requests(100, 10))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := draConfig(templates...)
			resp := postWith(t, cfg, PathDRA, reviewReq{op: admissionv1.Create, user: tenantUser, obj: tt.pod}.request(t))
			require.True(t, resp.Allowed, "%+v", resp.Result)
			if tt.want == nil {
				require.Nil(t, resp.Patch, "%s", resp.Patch)
				return
			}
			got := patched(t, tt.pod, resp)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pod (-want,+got):\n%s", diff)
			}
			// What the pod asks through its claims, as the GantryDRA
			// scheduler reads it, is what it asked through its resources.
			before, err := share.Parse(tt.pod)
			require.NoError(t, err)
			after, err := share.ParseWithClaims(got)
			require.NoError(t, err)
			assert.True(t, after.Empty(), "no Gantry resource is left: %+v", after.Parts)
			var claims []*resourceapi.ResourceClaim
			for _, pc := range got.Spec.ResourceClaims {
				if pc.ResourceClaimTemplateName == nil || !strings.HasPrefix(pc.Name, PodClaimPrefix) {
					continue
				}
				tm, err := cfg.ClaimTemplates.ResourceClaimTemplates("default").Get(t.Context(), *pc.ResourceClaimTemplateName, metav1.GetOptions{})
				require.NoError(t, err)
				claim := &resourceapi.ResourceClaim{Spec: tm.Spec.Spec}
				claim.Namespace, claim.Name = "default", containerOfClaim(t, got, pc.Name)
				claims = append(claims, claim)
			}
			viaClaims, err := dra.RequestOfPod(got, claims, gantryClass)
			require.NoError(t, err)
			for i := range viaClaims.Parts {
				viaClaims.Parts[i].Container, _, _ = strings.Cut(viaClaims.Parts[i].Container, "/")
			}
			before.Workload = viaClaims.Workload
			if diff := cmp.Diff(before, viaClaims); diff != "" {
				t.Errorf("request (-resources,+claims):\n%s", diff)
			}

			// Idempotent: the rewritten pod is left as it is.
			again := postWith(t, cfg, PathDRA, reviewReq{op: admissionv1.Create, user: tenantUser, obj: got}.request(t))
			require.True(t, again.Allowed)
			require.Nil(t, again.Patch, "a second pass patches %s", again.Patch)
			// And the share validation accepts it.
			require.True(t, post(t, PathValidate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: got}.request(t)).Allowed)
		})
	}
}

func TestRewriteDRARefuses(t *testing.T) {
	quarterAsHalf := tmpl(device.GPU, 1, 25, nil, "")
	quarterAsHalf.Spec.Spec.Devices.Requests[0].Exactly.Capacity.Requests[contract.DRACapacityPercent] = resource.MustParse("50")
	const gpuLimit = "spec.containers[0].resources.limits[gantry.dev/gpu-percent]"
	tests := []struct {
		name      string
		templates []runtime.Object
		pod       *corev1.Pod
		field     string
		want      []string
		// create: the refusal names this template and a command that
		// creates exactly it.
		create *resourceapi.ResourceClaimTemplate
	}{
		{name: "an odd size whose template is missing", pod: coretest.MakePod("p").GPUPercent(47).Obj(), field: gpuLimit,
			want:   []string{`namespace "default" is in DRA mode (gantry.dev/mode=dra), so this share is asked through ResourceClaimTemplate "gpu-47", which does not exist there; create it with: printf '%s' '`, `' | kubectl apply -n default -f -`},
			create: tmpl(device.GPU, 1, 47, nil, "")},
		{name: "models whose template is missing", pod: coretest.MakePod("p").GPUPercent(25).Models("T4").Obj(), field: gpuLimit,
			templates: []runtime.Object{tmpl(device.GPU, 1, 25, nil, "")},
			want:      []string{"ResourceClaimTemplate \"" + tmpl(device.GPU, 1, 25, []string{"T4"}, "").Name + "\", which does not exist there"},
			create:    tmpl(device.GPU, 1, 25, []string{"T4"}, "")},
		{name: "a template of Gantry's name asking something else", pod: coretest.MakePod("p").GPUPercent(25).Obj(), field: gpuLimit,
			templates: []runtime.Object{quarterAsHalf},
			want:      []string{`ResourceClaimTemplate "gpu-25", but that template asks something else; fix it to Gantry's with: printf`},
			create:    tmpl(device.GPU, 1, 25, nil, "")},
		{name: "the second container's NPU template is missing", pod: coretest.MakePod("p").GPUPercent(25).Container("side").NPUPercent(10).Obj(),
			templates: []runtime.Object{tmpl(device.GPU, 1, 25, nil, "")},
			field:     "spec.containers[1].resources.limits[gantry.dev/npu-percent]", want: []string{`"npu-10", which does not exist there`},
			create: tmpl(device.NPU, 1, 10, nil, "")},
		{name: "a malformed share gets the scheduler's message", pod: coretest.MakePod("p").GPUPercent(150).Obj(), field: gpuLimit,
			want: []string{"above 100 must be a whole multiple of 100 (whole devices); 150 is 1.50 devices"}},
		{name: "an init container's share", pod: coretest.MakePod("p").InitContainer("fetch").InitLimit(contract.ResourceGPUPercent, "10").Obj(),
			field: "spec.initContainers[0].resources.limits[gantry.dev/gpu-percent]", want: []string{"init containers may not request Gantry devices"}},
		{name: "the pod already names a claim gantry-main", templates: []runtime.Object{tmpl(device.GPU, 1, 25, nil, "")},
			pod:   withClaims(coretest.MakePod("p").GPUPercent(25).Obj(), 0, podClaim("gantry-main", "mine")),
			field: "spec.resourceClaims[0].name", want: []string{`Gantry's DRA rewrite names the claim of container "main"'s share so`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := draConfig(tt.templates...)
			resp := postWith(t, cfg, PathDRA, reviewReq{op: admissionv1.Create, user: tenantUser, obj: tt.pod}.request(t))
			require.False(t, resp.Allowed)
			require.Equal(t, int32(422), resp.Result.Code)
			require.Len(t, resp.Result.Details.Causes, 1, "%+v", resp.Result.Details.Causes)
			assert.Equal(t, tt.field, resp.Result.Details.Causes[0].Field)
			for _, w := range tt.want {
				assert.Contains(t, resp.Result.Message, w)
			}
			if tt.create == nil {
				return
			}
			got := templateOfCommand(t, resp.Result.Message)
			got.Namespace = "default"
			if diff := cmp.Diff(tt.create, got); diff != "" {
				t.Errorf("the command's template (-want,+got):\n%s", diff)
			}
		})
	}

	t.Run("a failure to read the template is a 500 naming it", func(t *testing.T) {
		cfg, c := draConfig()
		c.PrependReactor("get", "resourceclaimtemplates", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "resource.k8s.io", Resource: "resourceclaimtemplates"}, "gpu-25", errors.New("no"))
		})
		resp := postWith(t, cfg, PathDRA, reviewReq{op: admissionv1.Create, user: tenantUser, obj: coretest.MakePod("p").GPUPercent(25).Obj()}.request(t))
		require.False(t, resp.Allowed)
		assert.Equal(t, int32(500), resp.Result.Code)
		assert.Contains(t, resp.Result.Message, "reading ResourceClaimTemplate default/gpu-25: ")
		assert.Contains(t, resp.Result.Message, "forbidden")
	})
	t.Run("without API access a share is refused, saying so", func(t *testing.T) {
		resp := post(t, PathDRA, reviewReq{op: admissionv1.Create, user: tenantUser, obj: coretest.MakePod("p").GPUPercent(25).Obj()}.request(t))
		require.False(t, resp.Allowed)
		assert.Equal(t, int32(500), resp.Result.Code)
		assert.Contains(t, resp.Result.Message, "without API access")
	})
	t.Run("an update is not rewritten", func(t *testing.T) {
		cfg, _ := draConfig()
		pod := coretest.MakePod("p").GPUPercent(47).Obj()
		resp := postWith(t, cfg, PathDRA, reviewReq{op: admissionv1.Update, user: tenantUser, obj: pod, old: pod}.request(t))
		require.True(t, resp.Allowed)
		require.Nil(t, resp.Patch)
	})
}

// TestShippedClaimTemplatesAreTheRewrites: manifests/dra ships exactly the
// templates the rewrite references for 10, 25, 50 and 100 percent.
func TestShippedClaimTemplatesAreTheRewrites(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "manifests", "dra", "claimtemplates.yaml"))
	require.NoError(t, err)
	var names []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var got resourceapi.ResourceClaimTemplate
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &got))
		pct, err := strconv.Atoi(got.Labels[dra.LabelTemplatePercent])
		require.NoError(t, err, "template %s is labelled with its percent", got.Name)
		want := tmpl(device.GPU, 1, pct, nil, "")
		want.Namespace = ""
		if diff := cmp.Diff(want.ObjectMeta, got.ObjectMeta); diff != "" {
			t.Errorf("shipped %s (-rewrite's,+shipped):\n%s", got.Name, diff)
		}
		assert.True(t, dra.SameClaimSpec(want.Spec.Spec, got.Spec.Spec), "shipped %s asks what the rewrite's asks: %+v", got.Name, got.Spec.Spec)
		names = append(names, got.Name)
	}
	assert.Equal(t, []string{"gpu-10", "gpu-25", "gpu-50", "gpu-100"}, names)
}

// templateOfCommand decodes the template in the refusal's command.
func templateOfCommand(t *testing.T, msg string) *resourceapi.ResourceClaimTemplate {
	t.Helper()
	_, rest, ok := strings.Cut(msg, "printf '%s' '")
	require.True(t, ok, "no command in %q", msg)
	doc, _, ok := strings.Cut(rest, "' | kubectl apply -n ")
	require.True(t, ok, "no command in %q", msg)
	var got resourceapi.ResourceClaimTemplate
	require.NoError(t, json.Unmarshal([]byte(doc), &got))
	return &got
}

func containerOfClaim(t *testing.T, pod *corev1.Pod, claim string) string {
	t.Helper()
	for _, c := range pod.Spec.Containers {
		for _, rc := range c.Resources.Claims {
			if rc.Name == claim {
				return c.Name
			}
		}
	}
	t.Fatalf("no container uses claim %s", claim)
	return ""
}

func gantryClass(class string) (device.Kind, bool) {
	for _, k := range device.Kinds {
		if dra.DeviceClassFor(k) == class {
			return k, true
		}
	}
	return "", false
}
