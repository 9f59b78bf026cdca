package workload

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/simulator/trace"
)

// TestInflateDefaultTrace checks the anchor's number: the default trace, seed 42, ratio 1.3 of 6,212,000
// milli-GPU goes from 8152 to 10866 pods.
func TestInflateDefaultTrace(t *testing.T) {
	tr := loadShipped(t, trace.DefaultVariant)
	capacity := tr.GPUCapacityMilli()
	require.Equal(t, int64(6_212_000), capacity)

	got := Inflate(tr.Pods, 42, DefaultTuneRatio, capacity)
	require.Len(t, got, 10866)

	// The originals come first, each exactly once, in shuffled order.
	originals := got[:len(tr.Pods)]
	names := podNames(originals)
	require.NotEqual(t, podNames(tr.Pods), names, "shuffled")
	slices.Sort(names)
	require.Equal(t, podNames(tr.Pods), names, "every original exactly once (the list is name-sorted)")

	// Then the copies, named <name>-tuned-<i>, i counting from 0; each a copy of an original.
	byName := make(map[string]trace.Pod, len(tr.Pods))
	for _, p := range tr.Pods {
		byName[p.Name] = p
	}
	tunedName := regexp.MustCompile(`^(openb-pod-\d{4})-tuned-(\d+)$`)
	var requested int64
	for _, p := range originals {
		requested += p.TotalGPUMilli()
	}
	for i, c := range got[len(tr.Pods):] {
		m := tunedName.FindStringSubmatch(c.Name)
		require.NotNil(t, m, "copy %d is named %q", i, c.Name)
		require.Equal(t, fmt.Sprint(i), m[2])
		orig := byName[m[1]]
		orig.Name = c.Name
		if diff := cmp.Diff(orig, c); diff != "" {
			t.Fatalf("copy %d (-want,+got):\n%s", i, diff)
		}
		requested += c.TotalGPUMilli()
	}
	require.Equal(t, int64(6_086_800+1_988_280), requested, "total requested milli-GPU after inflation")
	require.LessOrEqual(t, float64(requested), DefaultTuneRatio*float64(capacity))
}

func TestInflateIsDeterministic(t *testing.T) {
	tr := loadShipped(t, trace.DefaultVariant)
	capacity := tr.GPUCapacityMilli()
	a := Inflate(tr.Pods, 42, DefaultTuneRatio, capacity)
	b := Inflate(tr.Pods, 42, DefaultTuneRatio, capacity)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different output (-first,+second):\n%s", diff)
	}
	c := Inflate(tr.Pods, 43, DefaultTuneRatio, capacity)
	require.NotEqual(t, podNames(a[:100]), podNames(c[:100]), "another seed, another order")

	// The input order does not matter: pods are sorted by name first.
	reversed := slices.Clone(tr.Pods)
	slices.Reverse(reversed)
	if diff := cmp.Diff(a, Inflate(reversed, 42, DefaultTuneRatio, capacity)); diff != "" {
		t.Fatalf("input order changed the output (-want,+got):\n%s", diff)
	}
}

func TestInflateLeavesInputAlone(t *testing.T) {
	s := int64(3)
	pods := []trace.Pod{
		{Name: "b", NumGPU: 1, GPUMilli: 500, GPUSpec: []string{"T4"}, Scheduled: &s},
		{Name: "a", NumGPU: 1, GPUMilli: 1000},
	}
	before := []trace.Pod{pods[0].Clone(), pods[1].Clone()}
	out := Inflate(pods, 1, 2, 2000)
	for i := range out {
		if out[i].GPUSpec != nil {
			out[i].GPUSpec[0] = "changed"
		}
		if out[i].Scheduled != nil {
			*out[i].Scheduled = 99
		}
	}
	if diff := cmp.Diff(before, pods); diff != "" {
		t.Fatalf("input changed (-want,+got):\n%s", diff)
	}
}

func TestInflate(t *testing.T) {
	gpuPods := func(n int, num int, milli int64) []trace.Pod {
		out := make([]trace.Pod, n)
		for i := range out {
			out[i] = trace.Pod{Name: fmt.Sprintf("p%02d", i), NumGPU: num, GPUMilli: milli}
		}
		return out
	}
	tests := []struct {
		name      string
		pods      []trace.Pod
		ratio     float64
		capacity  int64
		wantLen   int
		wantTotal int64
	}{
		{name: "no pods", pods: nil, ratio: 1.3, capacity: 1000, wantLen: 0},
		{name: "ratio 0 only shuffles", pods: gpuPods(10, 1, 500), ratio: 0, capacity: 1000, wantLen: 10, wantTotal: 5000},
		{name: "no capacity only shuffles", pods: gpuPods(10, 1, 500), ratio: 1.3, capacity: 0, wantLen: 10, wantTotal: 5000},
		{name: "CPU-only pods only shuffle", pods: []trace.Pod{{Name: "a"}, {Name: "b"}}, ratio: 1.3, capacity: 1000, wantLen: 2},
		{name: "demand exactly on target", pods: gpuPods(4, 1, 500), ratio: 1, capacity: 2000, wantLen: 4, wantTotal: 2000},
		{name: "inflate to the target", pods: gpuPods(4, 1, 500), ratio: 2, capacity: 2000, wantLen: 8, wantTotal: 4000},
		{name: "deflate to the target", pods: gpuPods(10, 1, 500), ratio: 1, capacity: 2000, wantLen: 4, wantTotal: 2000},
		{
			// The check adds only the copy's per-GPU share (1000), not its 8000: the reference's quirk.
			// 8000 + 1000 <= 10000, so a copy is appended and the demand overshoots to 16000.
			name: "multi-GPU copies are checked by their per-GPU share", pods: gpuPods(1, 8, 1000), ratio: 1, capacity: 10000,
			wantLen: 2, wantTotal: 16000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Inflate(tt.pods, 42, tt.ratio, tt.capacity)
			require.Len(t, got, tt.wantLen)
			var total int64
			for _, p := range got {
				total += p.TotalGPUMilli()
			}
			require.Equal(t, tt.wantTotal, total)
		})
	}
}

func TestNodePrefixes(t *testing.T) {
	tr := loadShipped(t, trace.DefaultVariant)
	run := func() map[string]string {
		p := NewProtocol(42)
		p.Inflate(tr.Pods, DefaultTuneRatio, tr.GPUCapacityMilli())
		return p.NodePrefixes(tr.Nodes)
	}
	got := run()
	require.Len(t, got, 1213)
	prefixed := regexp.MustCompile(`^(\d{4})-(openb-node-\d{4})$`)
	seen := make(map[string]bool, len(got))
	for name, pn := range got {
		m := prefixed.FindStringSubmatch(pn)
		require.NotNil(t, m, "%q", pn)
		require.Equal(t, name, m[2])
		require.Less(t, m[1], "1213")
		require.False(t, seen[m[1]], "prefix %s used twice", m[1])
		seen[m[1]] = true
	}
	if diff := cmp.Diff(got, run()); diff != "" {
		t.Fatalf("same seed, different prefixes (-first,+second):\n%s", diff)
	}

	// Prefixes continue the inflation's sequence: without the inflation draws they differ.
	alone := NewProtocol(42).NodePrefixes(tr.Nodes)
	require.NotEqual(t, got, alone)
}

func TestNodePrefixesFormat(t *testing.T) {
	nodes := []trace.Node{{Name: "b"}, {Name: "a"}, {Name: "c"}}
	got := NewProtocol(7).NodePrefixes(nodes)
	var prefixes []string
	for _, name := range []string{"a", "b", "c"} {
		pn := got[name]
		require.True(t, strings.HasSuffix(pn, "-"+name), pn)
		prefixes = append(prefixes, strings.TrimSuffix(pn, "-"+name))
	}
	slices.Sort(prefixes)
	require.Equal(t, []string{"0000", "0001", "0002"}, prefixes)
}

func podNames(pods []trace.Pod) []string {
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = p.Name
	}
	return names
}

// TestInflatePublishedSeeds pins the inflated size of the default trace for the paper's seeds 42..51.
// Only seed 42 (10866) was measured with the reference simulator (fgd-anchor §6); the others are
// regression values of this implementation, not yet checked against the reference. Seed 45 is the one
// where checking a copy's per-GPU share (the reference's rule) instead of its whole demand changes the
// result (10813 vs 10812).
func TestInflatePublishedSeeds(t *testing.T) {
	tr := loadShipped(t, trace.DefaultVariant)
	tests := []struct {
		seed int64
		want int
	}{
		{42, 10866}, {43, 10793}, {44, 10863}, {45, 10813}, {46, 10814},
		{47, 10831}, {48, 10805}, {49, 10835}, {50, 10766}, {51, 10859},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("seed %d", tt.seed), func(t *testing.T) {
			require.Len(t, Inflate(tr.Pods, tt.seed, DefaultTuneRatio, tr.GPUCapacityMilli()), tt.want)
		})
	}
}
