package sweep

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gantry-dev/gantry/core/policy"
)

const valid = `apiVersion: gantry.dev/v1alpha1
kind: Sweep
traceDir: /data/traces/alibaba-gpu-v2023
traces: [{variant: default}, {variant: gpushare40}]
policies: [FGD, BestFit]
seeds: "42-43"
`

func TestLoad(t *testing.T) {
	g, err := Load([]byte(valid))
	require.NoError(t, err)
	require.Equal(t, 1.3, g.Ratio, "defaulted")
	require.Equal(t, Inflation, g.Experiment, "defaulted")
	want := []Cell{
		{0, "default", "FGD", 42, Inflation}, {1, "default", "FGD", 43, Inflation}, {2, "default", "BestFit", 42, Inflation}, {3, "default", "BestFit", 43, Inflation},
		{4, "gpushare40", "FGD", 42, Inflation}, {5, "gpushare40", "FGD", 43, Inflation}, {6, "gpushare40", "BestFit", 42, Inflation}, {7, "gpushare40", "BestFit", 43, Inflation},
	}
	if diff := cmp.Diff(want, g.Cells()); diff != "" {
		t.Errorf("cells (-want,+got):\n%s", diff)
	}

	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", valid + "parallel: 3\n", `unknown field "parallel"`},
		{"wrong kind", "apiVersion: gantry.dev/v1alpha1\nkind: Run\ntraceDir: x\ntraces: [{variant: a}]\npolicies: [FGD]\nseeds: '1'\n", `kind: Invalid value: "Run": want Sweep`},
		{"unknown policy", "apiVersion: gantry.dev/v1alpha1\nkind: Sweep\ntraceDir: x\ntraces: [{variant: a}]\npolicies: [FGD, Best]\nseeds: '1'\n", `policies[1]: Unsupported value: "Best"`},
		{"duplicate trace", "apiVersion: gantry.dev/v1alpha1\nkind: Sweep\ntraceDir: x\ntraces: [{variant: a}, {variant: a}]\npolicies: [FGD]\nseeds: '1'\n", `traces[1].variant: Duplicate value: "a"`},
		{"path as variant", "apiVersion: gantry.dev/v1alpha1\nkind: Sweep\ntraceDir: x\ntraces: [{variant: ../etc}]\npolicies: [FGD]\nseeds: '1'\n", `traces[0].variant: Invalid value: "../etc"`},
		{"bad seeds", "apiVersion: gantry.dev/v1alpha1\nkind: Sweep\ntraceDir: x\ntraces: [{variant: a}]\npolicies: [FGD]\nseeds: 9-3\n", `seeds: Invalid value: "9-3"`},
		{"repeated seed", "apiVersion: gantry.dev/v1alpha1\nkind: Sweep\ntraceDir: x\ntraces: [{variant: a}]\npolicies: [FGD]\nseeds: 1-3,2\n", `seed 2 appears twice`},
		{"negative ratio", "apiVersion: gantry.dev/v1alpha1\nkind: Sweep\nratio: -1\ntraceDir: x\ntraces: [{variant: a}]\npolicies: [FGD]\nseeds: '1'\n", `ratio: Invalid value: -1`},
		{"no traceDir", "apiVersion: gantry.dev/v1alpha1\nkind: Sweep\ntraces: [{variant: a}]\npolicies: [FGD]\nseeds: '1'\n", `traceDir: Required value`},
		{"unknown experiment", valid + "experiment: scale\n", `experiment: Unsupported value: "scale"`},
		{"ratio of a replay", valid + "experiment: replay\nratio: 1.5\n", `ratio: Forbidden: only for experiment inflation`},
		{"autoscaler of an inflation", valid + "autoscaler: {config: a.yaml}\n", `autoscaler: Forbidden: only for experiment replay`},
		{"autoscaler of a sharing gain", valid + "experiment: sharing-gain\nautoscaler: {config: a.yaml}\n", `autoscaler: Forbidden: only for experiment replay`},
		{"autoscaler without config", valid + "experiment: replay\nautoscaler: {keepNodes: 1}\n", `autoscaler.config: Required value`},
		{"negative keepNodes", valid + "experiment: replay\nautoscaler: {config: a.yaml, keepNodes: -1}\n", `autoscaler.keepNodes: Invalid value: -1`},
		{"negative bootDelay", valid + "experiment: replay\nautoscaler: {config: a.yaml, bootDelay: -1s}\n", `autoscaler.bootDelay: Invalid value: "-1s"`},
		{"unknown autoscaler field", valid + "experiment: replay\nautoscaler: {config: a.yaml, scanInterval: 1s}\n", `unknown field "scanInterval"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestLoadOtherExperiments: a replay or sharing-gain grid has no ratio,
// and a replay's autoscaler gets gantry-sim run's default boot delay.
func TestLoadOtherExperiments(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       Grid
	}{
		{name: "replay", yaml: valid + "experiment: replay\n", want: Grid{Experiment: Replay}},
		{name: "sharing gain", yaml: valid + "experiment: sharing-gain\n", want: Grid{Experiment: SharingGain}},
		{name: "replay with the autoscaler", yaml: valid + "experiment: replay\nautoscaler: {config: as.yaml, keepNodes: 2}\n",
			want: Grid{Experiment: Replay, Autoscaler: &Autoscaler{Config: "as.yaml", KeepNodes: 2, BootDelay: &metav1.Duration{Duration: DefaultBootDelay}}}},
		{name: "replay with the autoscaler and a boot delay", yaml: valid + "experiment: replay\nautoscaler: {config: as.yaml, bootDelay: 30s}\n",
			want: Grid{Experiment: Replay, Autoscaler: &Autoscaler{Config: "as.yaml", BootDelay: &metav1.Duration{Duration: 30 * time.Second}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Load([]byte(tc.yaml))
			require.NoError(t, err)
			got := Grid{Experiment: g.Experiment, Ratio: g.Ratio, Autoscaler: g.Autoscaler}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("grid (-want,+got):\n%s", diff)
			}
			for _, c := range g.Cells() {
				require.Equal(t, tc.want.Experiment, c.Experiment, "cell %d", c.Index)
			}
		})
	}
}

func TestParseSeeds(t *testing.T) {
	got, err := ParseSeeds("-2--1, 5,7-8")
	require.NoError(t, err)
	require.Equal(t, []int64{-2, -1, 5, 7, 8}, got)
}

func TestJob(t *testing.T) {
	g, err := Load([]byte(valid))
	require.NoError(t, err)
	cm, job, err := Job(g, JobOptions{Name: "s", Namespace: "sim", Image: "img:v1", Claim: "data", ResultsDir: "r", Parallelism: 4})
	require.NoError(t, err)
	require.Equal(t, int32(8), *job.Spec.Completions)
	require.Equal(t, "s-grid", job.Spec.Template.Spec.Volumes[0].ConfigMap.Name)
	require.Equal(t, cm.Name, job.Spec.Template.Spec.Volumes[0].ConfigMap.Name)
	back, err := Load([]byte(cm.Data["grid.yaml"]))
	require.NoError(t, err, "the ConfigMap holds a valid grid")
	require.Equal(t, g, back)
	require.True(t, *job.Spec.Template.Spec.SecurityContext.RunAsNonRoot)

	_, _, err = Job(g, JobOptions{Name: "Bad_Name", Namespace: "sim", Image: "i", Claim: "c", Parallelism: 1})
	require.ErrorContains(t, err, `job name "Bad_Name"`)
}

// TestJobCarriesAutoscalerConfig: a replay grid's autoscaler configuration
// rides in the ConfigMap beside the grid, and the cells' grid names the
// mounted copy; the grid the caller holds keeps its own path.
func TestJobCarriesAutoscalerConfig(t *testing.T) {
	g, err := Load([]byte(valid + "experiment: replay\nautoscaler: {config: local/as.yaml, keepNodes: 1}\n"))
	require.NoError(t, err)
	o := JobOptions{Name: "s", Namespace: "sim", Image: "img:v1", Claim: "data", ResultsDir: "r", Parallelism: 2}
	_, _, err = Job(g, o)
	require.ErrorContains(t, err, "job autoscaler configuration: required")

	o.AutoscalerConfig = []byte("kind: AutoscalerConfiguration\n")
	cm, job, err := Job(g, o)
	require.NoError(t, err)
	require.Equal(t, "local/as.yaml", g.Autoscaler.Config, "the caller's grid is not changed")
	require.Equal(t, "kind: AutoscalerConfiguration\n", cm.Data["autoscaler-config.yaml"])
	back, err := Load([]byte(cm.Data["grid.yaml"]))
	require.NoError(t, err)
	want := *g
	want.Autoscaler = &Autoscaler{Config: AutoscalerFile, KeepNodes: 1, BootDelay: g.Autoscaler.BootDelay}
	if diff := cmp.Diff(&want, back); diff != "" {
		t.Errorf("the cells' grid (-want,+got):\n%s", diff)
	}
	require.Equal(t, GridMount, job.Spec.Template.Spec.Containers[0].VolumeMounts[0].MountPath, "the ConfigMap, both files, at %s", GridMount)
	require.Equal(t, int32(8), *job.Spec.Completions)
}

// FuzzLoad: no input panics Load; every grid it accepts has a cell per
// trace x policy x seed, only known policies, and survives a round trip.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte("apiVersion: gantry.dev/v1alpha1\nkind: Sweep\nratio: 2\ntraceDir: t\ntraces: [{variant: a}]\npolicies: [Random]\nseeds: '-5--3'\n"))
	f.Add([]byte("{}"))
	f.Add([]byte(valid + "experiment: replay\nautoscaler: {config: as.yaml, bootDelay: 90s, keepNodes: 3}\n"))
	f.Add([]byte(valid + "experiment: sharing-gain\n"))
	f.Add([]byte("seeds: 1-100000000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Load(data)
		if err != nil {
			return
		}
		seeds, err := ParseSeeds(g.Seeds)
		require.NoError(t, err)
		cells := g.Cells()
		require.Len(t, cells, len(g.Traces)*len(g.Policies)*len(seeds))
		known := map[policy.Type]bool{}
		for _, p := range policy.Types() {
			known[p] = true
		}
		for i, c := range cells {
			require.Equal(t, i, c.Index)
			require.True(t, known[c.Policy])
		}
		out, err := sigsyaml.Marshal(g)
		require.NoError(t, err)
		back, err := Load(out)
		require.NoError(t, err)
		require.Equal(t, g, back)
	})
}
