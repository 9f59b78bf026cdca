package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantry-dev/gantry/core/device"
)

// FuzzReview: any body kube-apiserver (or anyone reaching the port) sends
// is answered, on every path, with 400 or a review; never a panic. Where
// the DRA rewrite patches a pod, the patch applies, and the pod it makes
// asks no Gantry resource and is left as it is by a second pass.
func FuzzReview(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","userInfo":{"username":"alice"},"object":{"metadata":{"annotations":{"gantry.dev/allocation":"{}"}},"spec":{"containers":[{"name":"c","resources":{"limits":{"gantry.dev/gpu-percent":"150","nvidia.com/gpu":"2"}}}]}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"2","kind":{"version":"v1","kind":"Binding"},"resource":{"version":"v1","resource":"pods"},"subResource":"binding","operation":"CREATE","object":{"metadata":{"annotations":{"gantry.dev/allocated":"x"}},"target":{"name":"n"}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"3","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"UPDATE","object":{"spec":{}},"oldObject":"x"}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`))
	// DRA rewrites: a shipped size, two containers and a claim of the
	// pod's own, models and isolation, a missing template.
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"4","namespace":"default","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":{"spec":{"containers":[{"name":"main","resources":{"limits":{"gantry.dev/gpu-percent":"25","cpu":"1"}}}]}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"5","namespace":"default","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":{"spec":{"resourceClaims":[{"name":"nic","resourceClaimName":"nic"}],"containers":[{"name":"a","resources":{"limits":{"gantry.dev/gpu-percent":"200"},"claims":[{"name":"nic"}]}},{"name":"b","resources":{"requests":{"gantry.dev/npu-percent":"50"}}}]}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"6","namespace":"default","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":{"metadata":{"annotations":{"gantry.dev/gpu-models":"A100","gantry.dev/isolation":"mig"}},"spec":{"containers":[{"name":"main","resources":{"limits":{"gantry.dev/gpu-percent":"100"}}}]}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"7","namespace":"default","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","object":{"spec":{"containers":[{"name":"main","resources":{"limits":{"gantry.dev/gpu-percent":"47"}}}]}}}}`))
	cfg, _ := draConfig(
		tmpl(device.GPU, 1, 25, nil, ""), tmpl(device.GPU, 2, 100, nil, ""), tmpl(device.NPU, 1, 50, nil, ""),
		tmpl(device.GPU, 1, 100, []string{"A100"}, device.IsolationMIG),
	)
	h, err := Handler(cfg, NewMetrics())
	if err != nil {
		f.Fatal(err)
	}
	serve := func(t *testing.T, path string, body []byte) *httptest.ResponseRecorder {
		hr := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, hr)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("%s: status %d: %s", path, w.Code, w.Body.String())
		}
		return w
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{PathMutate, PathTranslate, PathValidate, PathAuthority, PathDRA} {
			w := serve(t, path, body)
			if path != PathDRA || w.Code != http.StatusOK {
				continue
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s: the answer is no review: %v", path, err)
			}
			if out.Response == nil || out.Response.Patch == nil {
				continue
			}
			in, err := DecodeReview(body)
			if err != nil {
				t.Fatalf("a patch for a review that does not decode: %v", err)
			}
			p, err := jsonpatch.DecodePatch(out.Response.Patch)
			if err != nil {
				t.Fatalf("the patch does not decode: %v", err)
			}
			// kube-apiserver sends its own encoding of the pod, and applies
			// the patch to it; a fuzzed body may spell keys in any case,
			// which only encoding/json forgives.
			sent, err := decodePod(in.Request.Object.Raw)
			if err != nil {
				t.Fatalf("a patch for a pod that does not decode: %v", err)
			}
			canonical, err := json.Marshal(sent)
			if err != nil {
				t.Fatal(err)
			}
			pod, err := p.Apply(canonical)
			if err != nil {
				t.Fatalf("the patch does not apply: %v\n%s", err, out.Response.Patch)
			}
			if _, err := decodePod(pod); err != nil {
				t.Fatalf("the patched pod does not decode: %v", err)
			}
			in.Request.Object = runtime.RawExtension{Raw: pod}
			second, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var again admissionv1.AdmissionReview
			if err := json.Unmarshal(serve(t, PathDRA, second).Body.Bytes(), &again); err != nil || again.Response == nil {
				t.Fatalf("the second pass: %v", err)
			}
			if !again.Response.Allowed || again.Response.Patch != nil {
				t.Fatalf("a second pass over the rewritten pod answers %+v, patch %s", again.Response.Result, again.Response.Patch)
			}
		}
	})
}
