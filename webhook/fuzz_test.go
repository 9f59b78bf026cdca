package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzReview: any body kube-apiserver (or anyone reaching the port) sends
// is answered, on every path, with 400 or a review; never a panic.
func FuzzReview(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"CREATE","userInfo":{"username":"alice"},"object":{"metadata":{"annotations":{"gantry.dev/allocation":"{}"}},"spec":{"containers":[{"name":"c","resources":{"limits":{"gantry.dev/gpu-percent":"150","nvidia.com/gpu":"2"}}}]}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"2","kind":{"version":"v1","kind":"Binding"},"resource":{"version":"v1","resource":"pods"},"subResource":"binding","operation":"CREATE","object":{"metadata":{"annotations":{"gantry.dev/allocated":"x"}},"target":{"name":"n"}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"3","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"operation":"UPDATE","object":{"spec":{}},"oldObject":"x"}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`))
	h, err := Handler(Config{SchedulerUsers: []string{"s"}, AgentUsers: []string{"a"}}, NewMetrics())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{PathMutate, PathTranslate, PathValidate, PathAuthority} {
			hr := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			hr.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, hr)
			if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
				t.Fatalf("%s: status %d: %s", path, w.Code, w.Body.String())
			}
		}
	})
}
