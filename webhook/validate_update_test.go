package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
)

// TestValidateRequestsOnUpdate: an update can change only a pod's
// annotations among what share.Parse reads; what it makes malformed is
// refused with the field path, what was malformed before is not held
// against it.
func TestValidateRequestsOnUpdate(t *testing.T) {
	pod := func() *coretest.PodWrapper { return coretest.MakePod("p").GPUPercent(40) }
	tests := []struct {
		name      string
		old, obj  *corev1.Pod
		wantField string // empty: allowed
		warnings  int
	}{
		{name: "a model list made garbage", old: pod().Obj(), obj: pod().Models("A100;x").Obj(),
			wantField: "metadata.annotations[gantry.dev/gpu-models]"},
		{name: "an isolation level made unknown", old: pod().Annotation(contract.AnnotationIsolation, "mps").Obj(),
			obj: pod().Annotation(contract.AnnotationIsolation, "hami").Obj(), wantField: "metadata.annotations[gantry.dev/isolation]"},
		{name: "allow-shared-device made garbage", old: pod().Obj(), obj: pod().Annotation(contract.AnnotationAllowSharedDevice, "yes").Obj(),
			wantField: "metadata.annotations[gantry.dev/allow-shared-device]"},
		{name: "NPU models on a GPU pod", old: pod().Obj(), obj: pod().Annotation(contract.AnnotationNPUModels, "Ascend910B").Obj(),
			wantField: "metadata.annotations[gantry.dev/npu-models]"},
		{name: "a valid model list", old: pod().Obj(), obj: pod().Models("A100|H100").Obj()},
		{name: "a label on a pod malformed before the webhook", old: coretest.MakePod("p").GPUPercent(150).Obj(),
			obj: coretest.MakePod("p").GPUPercent(150).Label("team", "a").Obj()},
		{name: "a pod malformed before gets a new error", old: coretest.MakePod("p").GPUPercent(150).Obj(),
			obj: coretest.MakePod("p").GPUPercent(150).Models("A100;x").Obj(), wantField: "metadata.annotations[gantry.dev/gpu-models]"},
		{name: "a bound pod's models changed: allowed, with a warning", old: pod().Node("n1").Obj(), obj: pod().Node("n1").Models("A100").Obj(), warnings: 1},
		{name: "a bound pod's allocation record is not the share's business", old: pod().Node("n1").Obj(),
			obj: pod().Node("n1").Annotation(contract.AnnotationAllocated, "{}").Obj()},
		{name: "a claim pod's models constrain its claims", old: claimPod(coretest.MakePod("p")), obj: claimPod(coretest.MakePod("p").Models("A100"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, PathValidate, reviewReq{op: admissionv1.Update, user: tenantUser, obj: tt.obj, old: tt.old}.request(t))
			if tt.wantField == "" {
				require.True(t, resp.Allowed, "%+v", resp.Result)
				assert.Len(t, resp.Warnings, tt.warnings, "%q", resp.Warnings)
				return
			}
			require.False(t, resp.Allowed)
			require.Equal(t, int32(422), resp.Result.Code)
			require.Len(t, resp.Result.Details.Causes, 1, "%+v", resp.Result.Details.Causes)
			assert.Equal(t, tt.wantField, resp.Result.Details.Causes[0].Field)
		})
	}
	t.Run("an update of a subresource or of another kind is not validated", func(t *testing.T) {
		req := reviewReq{op: admissionv1.Update, sub: "status", user: tenantUser, obj: pod().Models("x;y").Obj(), old: pod().Obj()}.request(t)
		require.True(t, post(t, PathValidate, req).Allowed)
	})
	t.Run("an update without its old object is a bad request", func(t *testing.T) {
		resp := post(t, PathValidate, reviewReq{op: admissionv1.Update, user: tenantUser, obj: pod().Obj()}.request(t))
		require.False(t, resp.Allowed)
		assert.Equal(t, int32(400), resp.Result.Code)
	})
}

// TestValidateClaimPods: a pod that asks through claims (DRA mode, by hand
// or rewritten) may carry the model and isolation annotations without a
// gantry.dev resource; the same pod without claims may not.
func TestValidateClaimPods(t *testing.T) {
	withModels := coretest.MakePod("p").Models("V100M16|V100M32").Annotation(contract.AnnotationIsolation, "mps")
	require.True(t, post(t, PathValidate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: claimPod(withModels)}.request(t)).Allowed)
	resp := post(t, PathValidate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: withModels.Obj()}.request(t))
	require.False(t, resp.Allowed)
	assert.Len(t, resp.Result.Details.Causes, 2)
	resp = post(t, PathValidate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: claimPod(coretest.MakePod("p").Models("V100;x"))}.request(t))
	require.False(t, resp.Allowed, "a garbage model list is refused on a claim pod too")
}

// claimPod adds a claim by name to the pod.
func claimPod(w *coretest.PodWrapper) *corev1.Pod {
	p := w.Obj()
	name := "infer-gpu"
	p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: &name}}
	p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
	return p
}
