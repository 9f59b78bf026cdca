package trace

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

// shippedDir is the test-only copy of the Alibaba GPU trace v2023 (research/study use; see NOTICE.md).
const shippedDir = "testdata/alibaba-gpu-v2023"

func readShippedPods(t testing.TB, file string) []Pod {
	t.Helper()
	tr, err := Load(filepath.Join(shippedDir, GPUNodeListFile), filepath.Join(shippedDir, file))
	require.NoError(t, err)
	return tr.Pods
}

func TestShippedNodeLists(t *testing.T) {
	type modelMix struct{ Nodes, GPUs int }
	tests := []struct {
		name      string
		file      string
		wantNodes int
		wantCPU   int
		wantGPUs  int
		wantMix   map[string]modelMix
	}{
		{
			name: "GPU nodes", file: GPUNodeListFile, wantNodes: 1213, wantCPU: 1213, wantGPUs: 6212,
			wantMix: map[string]modelMix{
				"G2": {549, 4392}, "T4": {404, 842}, "P100": {134, 265}, "V100M16": {55, 195},
				"G3": {39, 312}, "V100M32": {30, 204}, "A10": {2, 2},
			},
		},
		{
			name: "all nodes", file: AllNodeListFile, wantNodes: 1523, wantCPU: 1523, wantGPUs: 6212,
			wantMix: map[string]modelMix{
				"": {310, 0}, "G2": {549, 4392}, "T4": {404, 842}, "P100": {134, 265}, "V100M16": {55, 195},
				"G3": {39, 312}, "V100M32": {30, 204}, "A10": {2, 2},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := readFile(filepath.Join(shippedDir, tt.file), ReadNodes)
			require.NoError(t, err)
			require.Len(t, nodes, tt.wantNodes)
			mix := map[string]modelMix{}
			for _, n := range nodes {
				m := mix[n.Model]
				m.Nodes++
				m.GPUs += n.GPUs
				mix[n.Model] = m
			}
			if diff := cmp.Diff(tt.wantMix, mix); diff != "" {
				t.Fatalf("model mix (-want,+got):\n%s", diff)
			}
			require.Equal(t, int64(tt.wantGPUs)*MilliPerGPU, Trace{Nodes: nodes}.GPUCapacityMilli())
		})
	}
}

// podMix summarises a pod list the way the trace's README does.
type podMix struct {
	Pods, CPUOnly, Sharing, OneGPU  int
	MultiGPU                        map[int]int // GPU count -> pods
	Unscheduled, WithSpec, WithTime int
	MinShare                        int64
}

func mixOf(pods []Pod) podMix {
	m := podMix{Pods: len(pods), MultiGPU: map[int]int{}, MinShare: MilliPerGPU}
	for _, p := range pods {
		switch {
		case p.IsCPUOnly():
			m.CPUOnly++
		case p.IsSharing():
			m.Sharing++
		case p.NumGPU == 1:
			m.OneGPU++
		default:
			m.MultiGPU[p.NumGPU]++
		}
		if p.Scheduled == nil && p.HasTimes {
			m.Unscheduled++
		}
		if p.GPUSpec != nil {
			m.WithSpec++
		}
		if p.HasTimes {
			m.WithTime++
		}
		if p.NumGPU > 0 {
			m.MinShare = min(m.MinShare, p.GPUMilli)
		}
	}
	return m
}

func TestShippedDefaultPodList(t *testing.T) {
	got := mixOf(readShippedPods(t, PodListFile(DefaultVariant)))
	// From the trace's README: 1088 CPU-only, 3078 sharing, 3911 one-GPU, 75 multi-GPU (16 x 2, 15 x 4,
	// 44 x 8); 897 never scheduled; no GPU-model constraints; smallest share 50.
	want := podMix{
		Pods: 8152, CPUOnly: 1088, Sharing: 3078, OneGPU: 3911, MultiGPU: map[int]int{2: 16, 4: 15, 8: 44},
		Unscheduled: 897, WithSpec: 0, WithTime: 8152, MinShare: 50,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("default pod list (-want,+got):\n%s", diff)
	}
}

// TestShippedPodLists loads every shipped pod list and checks what the simulator relies on: every
// gpu_milli maps exactly to a gantry.dev/gpu-percent, and the row counts of the README.
func TestShippedPodLists(t *testing.T) {
	tests := []struct {
		variant   string
		wantPods  int
		wantTimes bool
		// wantSpec counts pods with a GPU-model constraint.
		wantSpec int
		wantNorm Normalizations
	}{
		{variant: "default", wantPods: 8152, wantTimes: true},
		{variant: "gpushare20", wantPods: 8152, wantTimes: true},
		{variant: "gpushare40", wantPods: 8152, wantTimes: true},
		{variant: "gpushare60", wantPods: 8152, wantTimes: true},
		{variant: "gpushare80", wantPods: 8152, wantTimes: true},
		{variant: "gpushare100", wantPods: 8152, wantTimes: true},
		{variant: "multigpu20", wantPods: 8324},
		{variant: "multigpu30", wantPods: 8508},
		{variant: "multigpu40", wantPods: 8746},
		{variant: "multigpu50", wantPods: 9061},
		// 17 rows name a model twice, e.g. "V100M16|V100M32|V100M32"; the reference reads them.
		{variant: "gpuspec20", wantPods: 8152, wantTimes: true, wantSpec: 1444, wantNorm: Normalizations{RepeatedGPUModel: 17}},
		{variant: "cpu100", wantPods: 7853, wantTimes: true},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			tr, err := LoadDir(shippedDir, tt.variant)
			require.NoError(t, err)
			require.Len(t, tr.Pods, tt.wantPods)
			spec := 0
			for _, p := range tr.Pods {
				require.Equal(t, p.GPUMilli, int64(p.GPUPercent())*MilliPerPercent, "pod %s", p.Name)
				require.Equal(t, tt.wantTimes, p.HasTimes, "pod %s", p.Name)
				if p.GPUSpec != nil {
					spec++
				}
			}
			require.Equal(t, tt.wantSpec, spec)
			if diff := cmp.Diff(tt.wantNorm, tr.Normalized, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("normalisations (-want,+got):\n%s", diff)
			}
			require.NoError(t, tr.Validate())
		})
	}
}

// TestEveryShippedFileIsCovered fails when a CSV is added to testdata without a test above.
func TestEveryShippedFileIsCovered(t *testing.T) {
	entries, err := os.ReadDir(shippedDir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".csv" {
			got = append(got, e.Name())
		}
	}
	want := []string{
		AllNodeListFile, GPUNodeListFile,
		PodListFile("cpu100"), PodListFile("default"), PodListFile("gpushare100"), PodListFile("gpushare20"), PodListFile("gpushare40"),
		PodListFile("gpushare60"), PodListFile("gpushare80"), PodListFile("gpuspec20"), PodListFile("multigpu20"),
		PodListFile("multigpu30"), PodListFile("multigpu40"), PodListFile("multigpu50"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("shipped CSVs (-want,+got):\n%s", diff)
	}
}

func TestLoadNamesTheMissingFile(t *testing.T) {
	_, err := LoadDir(shippedDir, "nosuchvariant")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Contains(t, err.Error(), "openb_pod_list_nosuchvariant.csv")
}

func BenchmarkLoadDefaultTrace(b *testing.B) {
	for b.Loop() {
		tr, err := LoadDir(shippedDir, DefaultVariant)
		if err != nil || len(tr.Pods) != 8152 {
			b.Fatalf("LoadDir: %d pods, %v", len(tr.Pods), err)
		}
	}
}
