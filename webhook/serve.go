package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// maxReviewBytes bounds a request body. kube-apiserver refuses objects
// above 3 MiB; a review carries the object and the old object.
const maxReviewBytes = 7 << 20

// reviewer answers one admission request.
type reviewer func(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse

// Handler returns the webhook's HTTP handler. m may be nil.
func Handler(cfg Config, m *Metrics) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webhook configuration: %w", err)
	}
	a := &admitter{cfg: cfg}
	mux := http.NewServeMux()
	for path, r := range map[string]reviewer{
		PathMutate:    a.mutate,
		PathTranslate: a.translate,
		PathValidate:  a.validate,
		PathAuthority: a.validateWriters,
		PathDRA:       a.rewriteDRA,
	} {
		mux.Handle(path, serveReview(path, r, m))
	}
	return mux, nil
}

// admitter holds what every review needs.
type admitter struct {
	cfg Config
}

// serveReview decodes an AdmissionReview, answers it with r and writes the
// review back with the response. A body that is not a v1 AdmissionReview
// gets HTTP 400 with the reason; kube-apiserver then applies the webhook's
// failurePolicy.
func serveReview(path string, r reviewer, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		ctx := hr.Context()
		logger := klog.FromContext(ctx).WithValues("path", path)
		review, err := decodeReview(hr)
		if err != nil {
			m.observe(path, resultBadRequest)
			logger.V(2).Info("Refusing a malformed admission review", "err", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := review.Request
		resp := r(klog.NewContext(ctx, logger), req)
		resp.UID = req.UID
		result := resultAllowed
		switch {
		case !resp.Allowed:
			result = resultDenied
			logger.V(2).Info("Denied", "operation", req.Operation, "resource", req.Resource.Resource, "subResource", req.SubResource,
				"pod", klog.KRef(req.Namespace, req.Name), "user", req.UserInfo.Username, "reason", resp.Result.Message)
		case resp.Patch != nil:
			result = resultPatched
			logger.V(4).Info("Patched", "pod", klog.KRef(req.Namespace, req.Name))
		}
		m.observe(path, result)
		out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp})
		if err != nil {
			http.Error(w, fmt.Sprintf("encoding the admission review: %v", err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}

// decodeReview reads and checks an admission.k8s.io/v1 AdmissionReview.
func decodeReview(hr *http.Request) (*admissionv1.AdmissionReview, error) {
	if hr.Method != http.MethodPost {
		return nil, fmt.Errorf("method %s: admission reviews are POSTed", hr.Method)
	}
	if ct, _, err := mime.ParseMediaType(hr.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		return nil, fmt.Errorf("content type %q: want application/json", hr.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxReviewBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	return DecodeReview(body)
}

// DecodeReview parses an admission.k8s.io/v1 AdmissionReview carrying a
// request.
func DecodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	if len(body) > maxReviewBytes {
		return nil, fmt.Errorf("body larger than %d bytes", maxReviewBytes)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return nil, fmt.Errorf("not an AdmissionReview: %w", err)
	}
	if review.APIVersion != admissionv1.SchemeGroupVersion.String() || review.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("got %s %s, want %s AdmissionReview", review.APIVersion, review.Kind, admissionv1.SchemeGroupVersion)
	}
	if review.Request == nil {
		return nil, errors.New("the AdmissionReview has no request")
	}
	return &review, nil
}

func allow() *admissionv1.AdmissionResponse { return &admissionv1.AdmissionResponse{Allowed: true} }

// deny refuses with code (403 Forbidden, 422 Invalid, 400 BadRequest) and a
// message kube-apiserver shows the client.
func deny(code int32, reason metav1.StatusReason, msg string, causes ...metav1.StatusCause) *admissionv1.AdmissionResponse {
	st := &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg}
	if len(causes) > 0 {
		st.Details = &metav1.StatusDetails{Causes: causes}
	}
	return &admissionv1.AdmissionResponse{Allowed: false, Result: st}
}
