package contract_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/core/contract"
)

// FuzzDecodeAllocation: any annotation value is refused with an error or
// decodes to an allocation that validates and survives a round trip.
func FuzzDecodeAllocation(f *testing.F) {
	f.Add(`{"v":"v1","node":"n1","containers":[{"container":"main","kind":"gpu","devices":[{"id":"g0","index":0,"units":25}]}]}`)
	f.Add(`{"v":"v1","node":"n1","containers":[]}`)
	f.Add(`{"v":"v1","node":"n1","containers":[{"container":"a","kind":"npu","devices":[{"id":"x","index":-1,"units":100}]}]} `)
	f.Add(`{"v":"v2"}`)
	f.Add(`{`)
	f.Fuzz(func(t *testing.T, value string) {
		a, err := contract.DecodeAllocation(value)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("decoded allocation does not validate: %v", err)
		}
		v, err := contract.EncodeAllocation(a)
		if err != nil {
			t.Fatalf("decoded allocation does not encode: %v", err)
		}
		b, err := contract.DecodeAllocation(v)
		if err != nil {
			t.Fatalf("re-encoded allocation does not decode: %v", err)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("round trip (-first,+second):\n%s", diff)
		}
	})
}

// FuzzDecodeInventory: any node annotation is refused with an error or
// decodes to an inventory that validates and survives a round trip.
func FuzzDecodeInventory(f *testing.F) {
	f.Add(`{"v":"v1","devices":[{"id":"GPU-0","index":0,"kind":"gpu","vendor":"nvidia","model":"T4","memoryMiB":16384,"health":"Healthy","numaNode":0}]}`)
	f.Add(`{"v":"v1","devices":[]}`)
	f.Add(`{"v":"v1","devices":[{"id":"a","index":0,"kind":"npu","model":"Ascend910","memoryMiB":1,"health":"Unhealthy","numaNode":-1,"linkGroup":"hccs0"}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, value string) {
		inv, err := contract.DecodeInventory("n1", value)
		if err != nil {
			return
		}
		if err := inv.Validate(); err != nil {
			t.Fatalf("decoded inventory does not validate: %v", err)
		}
		v, err := contract.EncodeInventory(inv)
		if err != nil {
			t.Fatalf("decoded inventory does not encode: %v", err)
		}
		again, err := contract.DecodeInventory("n1", v)
		if err != nil {
			t.Fatalf("re-encoded inventory does not decode: %v", err)
		}
		if diff := cmp.Diff(inv, again); diff != "" {
			t.Fatalf("round trip (-first,+second):\n%s", diff)
		}
	})
}

// FuzzAuthorityCounted: whatever a pod's request and annotations say,
// Counted never panics, and a record it counts names the pod's node and
// gives no container more than it asks.
func FuzzAuthorityCounted(f *testing.F) {
	f.Add("25", `{"v":"v1","node":"n1","containers":[{"container":"main","kind":"gpu","devices":[{"id":"g0","index":0,"units":25}]}]}`, "")
	f.Add("200", `{"v":"v1","node":"n1","containers":[{"container":"main","kind":"gpu","devices":[{"id":"g0","index":0,"units":100},{"id":"g1","index":1,"units":100}]}]}`, "")
	f.Add("0", "", `{"v":"v1","node":"n1","containers":[{"container":"main","kind":"gpu","devices":[{"id":"g0","index":0,"units":100}]}]}`)
	f.Add("1e3", "{", "{")
	f.Fuzz(func(t *testing.T, quantity, intent, record string) {
		q, err := resource.ParseQuantity(quantity)
		if err != nil {
			return
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", Annotations: map[string]string{}},
			Spec: corev1.PodSpec{NodeName: "n1", SchedulerName: contract.SchedulerName, Containers: []corev1.Container{{
				Name: "main", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{contract.ResourceGPUPercent: q}},
			}}},
		}
		if intent != "" {
			pod.Annotations[contract.AnnotationAllocation] = intent
		}
		if record != "" {
			pod.Annotations[contract.AnnotationAllocated] = record
		}
		a, _, ok, _ := contract.Authority{}.Counted(pod)
		if !ok {
			return
		}
		if a.Node != "n1" {
			t.Fatalf("counted a record for node %q on a pod bound to n1", a.Node)
		}
		v, _ := q.AsInt64()
		total := 0
		for _, u := range a.Units() {
			total += u
		}
		if int64(total) != v {
			t.Fatalf("counted %d units for a pod asking %d", total, v)
		}
	})
}
