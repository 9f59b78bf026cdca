package sweep

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
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
	want := []Cell{
		{0, "default", "FGD", 42}, {1, "default", "FGD", 43}, {2, "default", "BestFit", 42}, {3, "default", "BestFit", 43},
		{4, "gpushare40", "FGD", 42}, {5, "gpushare40", "FGD", 43}, {6, "gpushare40", "BestFit", 42}, {7, "gpushare40", "BestFit", 43},
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml))
			require.ErrorContains(t, err, tc.want)
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

// FuzzLoad: no input panics Load; every grid it accepts has a cell per
// trace x policy x seed, only known policies, and survives a round trip.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte("apiVersion: gantry.dev/v1alpha1\nkind: Sweep\nratio: 2\ntraceDir: t\ntraces: [{variant: a}]\npolicies: [Random]\nseeds: '-5--3'\n"))
	f.Add([]byte("{}"))
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
