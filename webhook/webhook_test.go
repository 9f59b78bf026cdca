package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/share"
)

const (
	schedulerUser = "system:serviceaccount:kube-system:gantry-scheduler"
	agentUser     = "system:serviceaccount:kube-system:gantry-device-plugin"
	tenantUser    = "alice"
)

func testConfig() Config {
	return Config{SchedulerUsers: []string{schedulerUser}, AgentUsers: []string{agentUser}}
}

// reviewReq builds an admission request for pods (subresource sub).
type reviewReq struct {
	op       admissionv1.Operation
	sub      string
	user     string
	node     string // the token's node claim
	obj, old runtime.Object
}

func (r reviewReq) request(t *testing.T) *admissionv1.AdmissionRequest {
	t.Helper()
	req := &admissionv1.AdmissionRequest{
		UID:         "uid-1",
		Kind:        metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:    metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		SubResource: r.sub,
		Namespace:   "default",
		Name:        "p",
		Operation:   r.op,
		UserInfo:    authenticationv1.UserInfo{Username: r.user},
	}
	if r.sub == "binding" {
		req.Kind.Kind = "Binding"
	}
	if r.node != "" {
		req.UserInfo.Extra = map[string]authenticationv1.ExtraValue{ExtraNodeName: {r.node}}
	}
	for _, x := range []struct {
		obj runtime.Object
		raw *runtime.RawExtension
	}{{r.obj, &req.Object}, {r.old, &req.OldObject}} {
		if x.obj != nil {
			b, err := json.Marshal(x.obj)
			require.NoError(t, err)
			x.raw.Raw = b
		}
	}
	return req
}

// post sends req to path through the real handler and returns the response.
func post(t *testing.T, path string, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	return postWith(t, testConfig(), path, req)
}

// postWith is post through a handler with cfg.
func postWith(t *testing.T, cfg Config, path string, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	h, err := Handler(cfg, nil)
	require.NoError(t, err)
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  req,
	})
	require.NoError(t, err)
	hr := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	hr.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var out admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	require.NotNil(t, out.Response)
	require.Equal(t, req.UID, out.Response.UID)
	return out.Response
}

// patched applies the response's patch to pod.
func patched(t *testing.T, pod *corev1.Pod, resp *admissionv1.AdmissionResponse) *corev1.Pod {
	t.Helper()
	if resp.Patch == nil {
		return pod
	}
	require.Equal(t, admissionv1.PatchTypeJSONPatch, *resp.PatchType)
	p, err := jsonpatch.DecodePatch(resp.Patch)
	require.NoError(t, err)
	doc, err := json.Marshal(pod)
	require.NoError(t, err)
	doc, err = p.Apply(doc)
	require.NoError(t, err)
	var out corev1.Pod
	require.NoError(t, json.Unmarshal(doc, &out))
	return &out
}

func withScheduler(p *corev1.Pod, name string) *corev1.Pod {
	p.Spec.SchedulerName = name
	return p
}

func TestMutateSchedulerName(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"share without a scheduler name", withScheduler(coretest.MakePod("p").GPUPercent(30).Obj(), corev1.DefaultSchedulerName), contract.SchedulerName},
		{"empty scheduler name", withScheduler(coretest.MakePod("p").GPUPercent(30).Obj(), ""), contract.SchedulerName},
		{"whole devices", withScheduler(coretest.MakePod("p").NPUPercent(200).Obj(), corev1.DefaultSchedulerName), contract.SchedulerName},
		{"CPU-only pod untouched", withScheduler(coretest.MakePod("p").Requests(100, 10).Obj(), corev1.DefaultSchedulerName), corev1.DefaultSchedulerName},
		{"another scheduler chosen on purpose", withScheduler(coretest.MakePod("p").GPUPercent(30).Obj(), "volcano"), "volcano"},
		{"already Gantry", coretest.MakePod("p").GPUPercent(30).Obj(), contract.SchedulerName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, PathMutate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: tt.pod}.request(t))
			require.True(t, resp.Allowed)
			require.Equal(t, tt.want, patched(t, tt.pod, resp).Spec.SchedulerName)
		})
	}
}

func TestTranslate(t *testing.T) {
	nv := func(q string) *corev1.Pod {
		return withScheduler(coretest.MakePod("p").Limit(ResourceNVIDIAGPU, q).Requests(500, 128).Obj(), corev1.DefaultSchedulerName)
	}
	t.Run("two GPUs become 200 percent", func(t *testing.T) {
		pod := nv("2")
		resp := post(t, PathTranslate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: pod}.request(t))
		require.True(t, resp.Allowed, "%+v", resp.Result)
		got := patched(t, pod, resp)
		require.Equal(t, contract.SchedulerName, got.Spec.SchedulerName)
		c := got.Spec.Containers[0].Resources
		require.Equal(t, "200", c.Limits.Name(contract.ResourceGPUPercent, "").String())
		require.Equal(t, "200", c.Requests.Name(contract.ResourceGPUPercent, "").String())
		_, has := c.Limits[ResourceNVIDIAGPU]
		require.False(t, has)
		require.Equal(t, "500m", c.Requests.Cpu().String(), "other requests kept")
	})
	for _, tt := range []struct {
		name, q, field string
	}{
		{"fraction", "500m", "spec.containers[0].resources.limits[nvidia.com/gpu]"},
		{"negative", "-1", "spec.containers[0].resources.limits[nvidia.com/gpu]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, PathTranslate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: nv(tt.q)}.request(t))
			require.False(t, resp.Allowed)
			require.Equal(t, int32(422), resp.Result.Code)
			require.Equal(t, tt.field, resp.Result.Details.Causes[0].Field)
		})
	}
	t.Run("both resources on one container", func(t *testing.T) {
		pod := coretest.MakePod("p").Limit(ResourceNVIDIAGPU, "1").GPUPercent(50).Obj()
		resp := post(t, PathTranslate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: pod}.request(t))
		require.False(t, resp.Allowed)
		require.Contains(t, resp.Result.Message, "also asks for gantry.dev/gpu-percent")
	})
	t.Run("a pod without nvidia.com/gpu is untouched", func(t *testing.T) {
		pod := withScheduler(coretest.MakePod("p").Requests(1, 1).Obj(), corev1.DefaultSchedulerName)
		resp := post(t, PathTranslate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: pod}.request(t))
		require.True(t, resp.Allowed)
		require.Nil(t, resp.Patch)
	})
}

func TestValidateRequests(t *testing.T) {
	// The webhook's messages are the scheduler's: both come from share.Parse.
	bad := coretest.MakePod("p").GPUPercent(150).Obj()
	_, parseErr := shareParse(bad)
	require.Error(t, parseErr)

	resp := post(t, PathValidate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: bad}.request(t))
	require.False(t, resp.Allowed)
	require.Equal(t, int32(422), resp.Result.Code)
	require.Contains(t, resp.Result.Message, "spec.containers[0].resources.limits[gantry.dev/gpu-percent]: Invalid value: 150: above 100 must be a whole multiple of 100")
	require.Contains(t, parseErr.Error(), resp.Result.Details.Causes[0].Message)

	ok := coretest.MakePod("p").GPUPercent(40).Obj()
	require.True(t, post(t, PathValidate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: ok}.request(t)).Allowed)
}

func TestValidateAuthority(t *testing.T) {
	alloc := func(node string) string {
		v, err := contract.EncodeAllocation(contract.Allocation{Node: node, Containers: []contract.ContainerAllocation{{
			Container: "main", Kind: "gpu", Devices: []contract.DeviceShare{{ID: "g0", Index: 0, Units: 30}},
		}}})
		require.NoError(t, err)
		return v
	}
	pending := coretest.MakePod("p").GPUPercent(30).Obj()
	bound := coretest.MakePod("p").GPUPercent(30).Node("n1").Obj()
	with := func(p *corev1.Pod, kv ...string) *corev1.Pod {
		p = p.DeepCopy()
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		for i := 0; i < len(kv); i += 2 {
			p.Annotations[kv[i]] = kv[i+1]
		}
		return p
	}
	binding := func(ann map[string]string) *corev1.Binding {
		return &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", Annotations: ann},
			Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	}
	intent, record := contract.AnnotationAllocation, contract.AnnotationAllocated
	tests := []struct {
		name    string
		req     reviewReq
		allowed bool
		message string
	}{
		{"tenant creates a pod with a forged intent",
			reviewReq{op: admissionv1.Create, user: tenantUser, obj: with(bound, intent, alloc("n1"))}, false,
			`gantry.dev/allocation of pod default/p refused for user "alice": only Gantry's scheduler and node agent may set or change it`},
		{"tenant creates a pod with a forged record",
			reviewReq{op: admissionv1.Create, user: tenantUser, obj: with(pending, record, alloc("n1"))}, false, "gantry.dev/allocated"},
		{"tenant changes the intent",
			reviewReq{op: admissionv1.Update, user: tenantUser, old: with(bound, intent, alloc("n1")), obj: with(bound, intent, alloc("n2"))}, false, "refused"},
		{"tenant removes the record",
			reviewReq{op: admissionv1.Update, user: tenantUser, old: with(bound, record, alloc("n1")), obj: bound}, false, "refused"},
		{"tenant forges through pods/status",
			reviewReq{op: admissionv1.Update, sub: "status", user: tenantUser, old: bound, obj: with(bound, record, alloc("n1"))}, false, "refused"},
		{"tenant relabels a pod that carries both, leaving them alone",
			reviewReq{op: admissionv1.Update, user: tenantUser, old: with(bound, intent, alloc("n1"), record, alloc("n1")), obj: with(bound, intent, alloc("n1"), record, alloc("n1"), "x", "y")}, true, ""},
		{"scheduler writes the intent in PreBind",
			reviewReq{op: admissionv1.Update, user: schedulerUser, old: pending, obj: with(pending, intent, alloc("n1"))}, true, ""},
		{"scheduler writes the intent in the Binding",
			reviewReq{op: admissionv1.Create, sub: "binding", user: schedulerUser, obj: binding(map[string]string{intent: alloc("n1")})}, true, ""},
		{"another scheduler's Binding carries an intent",
			reviewReq{op: admissionv1.Create, sub: "binding", user: "system:kube-scheduler", obj: binding(map[string]string{intent: alloc("n1")})}, false, "refused"},
		{"a Binding without Gantry annotations",
			reviewReq{op: admissionv1.Create, sub: "binding", user: "system:kube-scheduler", obj: binding(nil)}, true, ""},
		{"scheduler may not write the record",
			reviewReq{op: admissionv1.Update, user: schedulerUser, old: bound, obj: with(bound, record, alloc("n1"))}, false, "only the node agent records"},
		{"agent records on its own node",
			reviewReq{op: admissionv1.Update, user: agentUser, node: "n1", old: bound, obj: with(bound, record, alloc("n1"))}, true, ""},
		{"agent removes an intent kubelet did not honour",
			reviewReq{op: admissionv1.Update, user: agentUser, node: "n1", old: with(bound, intent, alloc("n1")), obj: bound}, true, ""},
		{"agent may not write an intent",
			reviewReq{op: admissionv1.Update, user: agentUser, node: "n1", old: bound, obj: with(bound, intent, alloc("n1"))}, false, "may only remove it"},
		{"agent of another node",
			reviewReq{op: admissionv1.Update, user: agentUser, node: "n2", old: bound, obj: with(bound, record, alloc("n1"))}, false,
			`the node agent of node "n2" may only write pods bound to it, not to "n1"`},
		{"agent without a node claim",
			reviewReq{op: admissionv1.Update, user: agentUser, old: bound, obj: with(bound, record, alloc("n1"))}, false, "no node claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, PathAuthority, tt.req.request(t))
			if tt.allowed {
				require.True(t, resp.Allowed, "%+v", resp.Result)
				return
			}
			require.False(t, resp.Allowed)
			require.Equal(t, int32(403), resp.Result.Code)
			require.Contains(t, resp.Result.Message, tt.message)
		})
	}
}

func TestMalformedReviews(t *testing.T) {
	h, err := Handler(testConfig(), nil)
	require.NoError(t, err)
	for _, tt := range []struct {
		name, method, contentType, body, want string
	}{
		{"GET", http.MethodGet, "application/json", "", "admission reviews are POSTed"},
		{"wrong content type", http.MethodPost, "text/plain", "{}", "want application/json"},
		{"not JSON", http.MethodPost, "application/json", "{", "not an AdmissionReview"},
		{"wrong version", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}`, "want admission.k8s.io/v1 AdmissionReview"},
		{"no request", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, "has no request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hr := httptest.NewRequest(tt.method, PathValidate, bytes.NewReader([]byte(tt.body)))
			hr.Header.Set("Content-Type", tt.contentType)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, hr)
			require.Equal(t, http.StatusBadRequest, w.Code)
			require.Contains(t, w.Body.String(), tt.want)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no scheduler", Config{AgentUsers: []string{agentUser}}, "no scheduler identity"},
		{"no agent", Config{SchedulerUsers: []string{schedulerUser}}, "no node agent identity"},
		{"same user twice", Config{SchedulerUsers: []string{agentUser}, AgentUsers: []string{agentUser}}, "both the scheduler and the node agent"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			require.ErrorContains(t, err, tt.want)
		})
	}
	cfg := testConfig()
	require.NoError(t, cfg.Validate())
	if diff := cmp.Diff(contract.SchedulerName, cfg.SchedulerName); diff != "" {
		t.Errorf("default scheduler name (-want,+got):\n%s", diff)
	}
}

var shareParse = func(p *corev1.Pod) (any, error) { return share.Parse(p) }
