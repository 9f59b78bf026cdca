package podutil

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/coretest"
)

// Pods of the same claim template are equivalent; another template, or
// a named claim, is not (a 10 percent pod that fits must never be
// skipped because a 100 percent one did not).
func TestEquivalenceKeyCountsClaims(t *testing.T) {
	withTemplate := func(name, template string) *corev1.Pod {
		p := coretest.MakePod(name).Requests(100, 128).Obj()
		p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimTemplateName: ptr.To(template)}}
		return p
	}
	named := coretest.MakePod("n").Requests(100, 128).Obj()
	named.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: ptr.To("mine")}}
	tests := []struct {
		name string
		a, b *corev1.Pod
		same bool
	}{
		{"same template", withTemplate("a", "gpu-10"), withTemplate("b", "gpu-10"), true},
		{"other template", withTemplate("a", "gpu-10"), withTemplate("b", "gpu-100"), false},
		{"template and named claim", withTemplate("a", "gpu-10"), named, false},
		{"claim and none", withTemplate("a", "gpu-10"), coretest.MakePod("c").Requests(100, 128).Obj(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.same, EquivalenceKey(tt.a) == EquivalenceKey(tt.b))
		})
	}
}
