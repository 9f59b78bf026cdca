package share_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// FuzzParse: any request a user can write is either refused with field
// errors or parsed into parts the core can place: 1..100 units per device,
// whole devices at 100, at most MaxDevices.
func FuzzParse(f *testing.F) {
	f.Add("25", "25", "", "V100M16|V100M32", "true")
	f.Add("300", "", "50", "", "")
	f.Add("150", "150", "", "", "maybe")
	f.Add("-1", "", "", " ", "false")
	f.Add("0.5", "", "1e2", "A|A", "")
	f.Fuzz(func(t *testing.T, gpuLimit, gpuRequest, npuLimit, models, shared string) {
		c := corev1.Container{Name: "main", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{}, Requests: corev1.ResourceList{}}}
		for _, x := range []struct {
			s    string
			list corev1.ResourceList
			name corev1.ResourceName
		}{
			{gpuLimit, c.Resources.Limits, contract.ResourceGPUPercent},
			{gpuRequest, c.Resources.Requests, contract.ResourceGPUPercent},
			{npuLimit, c.Resources.Limits, contract.ResourceNPUPercent},
		} {
			if x.s == "" {
				continue
			}
			q, err := resource.ParseQuantity(x.s)
			if err != nil {
				return
			}
			x.list[x.name] = q
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", Annotations: map[string]string{}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
		if models != "" {
			pod.Annotations[contract.AnnotationGPUModels] = models
		}
		if shared != "" {
			pod.Annotations[contract.AnnotationAllowSharedDevice] = shared
		}
		req, err := share.Parse(pod)
		if err != nil {
			if req != nil {
				t.Fatalf("a refused request is returned too: %+v", req)
			}
			return
		}
		for _, p := range req.Parts {
			if p.Units < 1 || p.Units > device.UnitsPerDevice || p.Count < 1 || p.Count > share.MaxDevices ||
				(p.Count > 1 && p.Units != device.UnitsPerDevice) {
				t.Fatalf("parsed an unplaceable part %+v", p)
			}
		}
		for _, ms := range req.Models {
			for _, m := range ms {
				if !device.ValidModel(m) {
					t.Fatalf("parsed an invalid model %q", m)
				}
			}
		}
	})
}
