package deviceshare

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
)

func gpuReq(cpu int64, count, units int) *share.Request {
	return &share.Request{CPUMilli: cpu, Parts: []share.Part{{Container: "c", Kind: device.GPU, Count: count, Units: units}}}
}

// feed observes n pods of req in namespace ns with fresh UIDs.
func feed(o *observedWorkload, ns string, n int, req *share.Request) {
	for range n {
		o.observe(ns, types.UID(fmt.Sprintf("%s-%d", ns, o.tick)), req)
	}
}

// weights maps shape keys to weights.
func weights(w policy.Workload) map[string]float64 {
	out := map[string]float64{}
	for _, s := range w {
		out[s.Key()] = s.Weight
	}
	return out
}

func TestObservedWorkloadCountsEachPodOnce(t *testing.T) {
	o := newObservedWorkload(100)
	req := gpuReq(1000, 1, 50)
	for range 3 {
		o.observe("a", "same-uid", req)
	}
	o.observe("a", "other", &share.Request{CPUMilli: 2000}) // asks for no device
	got, _ := o.snapshot()
	want := map[string]float64{shapeKey(req): 0.5, policy.Shape{CPUMilli: 2000}.Key(): 0.5}
	// The first pod has aged by one observation: 2^(-1/halfLife) of 1.
	if diff := cmp.Diff(want, weights(got), cmpopts.EquateApprox(0, 1e-3)); diff != "" {
		t.Errorf("a pod seen three times counts once; a CPU-only pod is a shape too (-want,+got):\n%s", diff)
	}
}

// TestObservedWorkloadAgesOutOldShapes: a shape that nobody asks for any
// more fades out of the estimate, and one that arrives after the table is
// full is still counted.
func TestObservedWorkloadAgesOutOldShapes(t *testing.T) {
	o := newObservedWorkload(95)
	old, fresh := gpuReq(1000, 1, 30), gpuReq(2000, 1, 100)
	feed(o, "a", 5000, old)
	// Fill the table with one-off shapes, then the workload changes.
	for i := range maxEntries {
		feed(o, "a", 1, gpuReq(int64(10000+i), 1, 10))
	}
	feed(o, "a", 30000, fresh)
	w := weights(o.estimate())
	keyOld, keyFresh := shapeKey(old), shapeKey(fresh)
	assert.NotContains(t, w, keyOld, "a shape last seen 30,000 pods ago still shapes the estimate")
	require.Contains(t, w, keyFresh, "a shape that arrived after the table filled up is not counted")
	assert.Greater(t, w[keyFresh], 0.95)
	assert.LessOrEqual(t, len(o.entries), maxEntries)
}

func shapeKey(r *share.Request) string {
	p := r.Parts[0]
	return policy.Shape{CPUMilli: r.CPUMilli, Kind: p.Kind, Count: p.Count, Units: p.Units}.Key()
}

// TestObservedWorkloadOneTenantCannotDominate: one namespace flooding the
// scheduler with pods of its own shapes weighs at most its share, and the
// shapes of everyone else keep theirs.
func TestObservedWorkloadOneTenantCannotDominate(t *testing.T) {
	tests := []struct {
		name       string
		tenants    int
		flood      int
		floodShare float64
	}{
		{"ten tenants, one floods 100x", 10, 100000, defaultMaxNamespaceShare},
		{"five tenants, one floods 50x", 5, 25000, defaultMaxNamespaceShare},
		{"three tenants: no namespace can be capped, all weigh the same", 3, 15000, 1.0 / 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newObservedWorkload(100)
			o.halfLife = 1e12 // no aging: this test is about shares
			legit := gpuReq(4000, 1, 100)
			for i := range tc.tenants - 1 {
				feed(o, fmt.Sprint("team-", i), 500, legit)
			}
			for i := range tc.flood {
				feed(o, "flood", 1, gpuReq(int64(1000+i%50), 1, 5))
			}
			w := weights(o.estimate())
			var floodWeight float64
			for k, v := range w {
				if k != shapeKey(legit) {
					floodWeight += v
				}
			}
			assert.InDelta(t, tc.floodShare, floodWeight, 1e-6, "the flooding namespace's weight")
			assert.InDelta(t, 1-tc.floodShare, w[shapeKey(legit)], 1e-6, "everyone else's shape")
		})
	}
}

func TestFairShares(t *testing.T) {
	tests := []struct {
		name     string
		weights  map[string]float64
		maxShare float64
		want     map[string]float64 // resulting shares
	}{
		{"nobody above the cap", map[string]float64{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}, 0.25, map[string]float64{"a": 0.2, "b": 0.2, "c": 0.2, "d": 0.2, "e": 0.2}},
		{"one capped", map[string]float64{"a": 100, "b": 1, "c": 1, "d": 1, "e": 1}, 0.25, map[string]float64{"a": 0.25, "b": 0.1875, "c": 0.1875, "d": 0.1875, "e": 0.1875}},
		{"two capped, the rest keep their ratio", map[string]float64{"a": 100, "b": 50, "c": 1, "d": 2, "e": 3, "f": 4}, 0.3, map[string]float64{"a": 0.3, "b": 0.3, "c": 0.04, "d": 0.08, "e": 0.12, "f": 0.16}},
		{"too few namespaces: equal shares", map[string]float64{"a": 9, "b": 1}, 0.25, map[string]float64{"a": 0.5, "b": 0.5}},
		{"one namespace is the whole workload", map[string]float64{"a": 7}, 0.25, map[string]float64{"a": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scale := fairShares(tc.weights, tc.maxShare)
			got := map[string]float64{}
			var total float64
			for ns, w := range tc.weights {
				got[ns] = w * scale[ns]
				total += got[ns]
			}
			for ns := range got {
				got[ns] /= total
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("shares (-want,+got):\n%s", diff)
			}
		})
	}
}
