package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// --mode dra,... runs each mode beside device-plugin mode: the report says
// which modes ran and that FGD placed every pod alike in dra mode; the
// stock plugin runs once whatever --policies says.
func TestRunModes(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	out := filepath.Join(tmp, "out")
	_, err := execute("run", "--nodes", nodes, "--pods", pods, "--policies", "FGD,BestFit", "--mode", "device-plugin,dra,dra-first-fit,dra-upstream", "--out", out, "--no-timing", "--progress", "never")
	require.NoError(t, err)
	files := readDir(t, out)
	for _, f := range []string{"placements-FGD-seed42.csv", "placements-FGD-dra-seed42.csv", "placements-BestFit-dra-first-fit-seed42.csv", "placements-none-dra-upstream-seed42.csv"} {
		require.Contains(t, files, f)
	}
	require.NotContains(t, files, "placements-BestFit-dra-upstream-seed42.csv", "the stock plugin ignores the policy: one run per seed")
	require.Equal(t, files["placements-FGD-seed42.csv"], files["placements-FGD-dra-seed42.csv"], "FGD places every pod alike in both modes")
	report := string(files["report.md"])
	require.Contains(t, report, "Modes: device-plugin, dra, dra-first-fit, dra-upstream.")
	require.Contains(t, report, "## DRA mode vs device-plugin mode")
	require.Contains(t, report, "| FGD | dra | 42 |")
	require.Contains(t, string(files["summary.csv"]), "none [dra-upstream],42,")
}

func TestRunModeErrors(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	cfg := filepath.Join(tmp, "sched.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"), 0o644))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown mode", []string{"--mode", "dra-best"}, `--mode: unknown mode "dra-best" (known: device-plugin, dra, dra-first-fit, dra-upstream)`},
		{"no mode", []string{"--mode", ","}, "--mode: no mode given"},
		{"sharing gain", []string{"--mode", "dra", "--experiment", "sharing-gain"}, "--mode dra*: only with --experiment inflation or replay"},
		{"scheduler config", []string{"--mode", "device-plugin,dra", "--scheduler-config", cfg}, "--mode dra*: not with --scheduler-config (the DRA modes run their own profile)"},
		{"learned workload", []string{"--mode", "dra-first-fit", "--workload", "both"}, "--mode dra*: only with --workload trace (GantryDRA does not learn a workload from claims)"},
		{"autoscaler", []string{"--mode", "dra", "--experiment", "replay", "--autoscaler-config", cfg}, "--mode dra*: not with --autoscaler-config (the autoscaler simulates device-plugin nodes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(tmp, "out-"+tt.name)
			_, err := execute(append([]string{"run", "--nodes", nodes, "--pods", pods, "--out", out, "--progress", "never"}, tt.args...)...)
			require.EqualError(t, err, tt.want)
			_, statErr := os.Stat(out)
			require.True(t, os.IsNotExist(statErr), "nothing is written")
		})
	}
}

// A replay in DRA mode runs arrivals and departures through the claims.
func TestReplayInDRAMode(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	outs := map[string]map[string][]byte{}
	for _, m := range []string{"device-plugin", "dra"} {
		out := filepath.Join(tmp, m)
		_, err := execute("run", "--nodes", nodes, "--pods", pods, "--policies", "FGD", "--experiment", "replay", "--mode", m, "--out", out, "--no-timing", "--progress", "never")
		require.NoError(t, err)
		outs[m] = readDir(t, out)
	}
	require.Equal(t, outs["device-plugin"]["placements-FGD-seed42.csv"], outs["dra"]["placements-FGD-dra-seed42.csv"])
	require.Contains(t, string(outs["dra"]["report.md"]), "FGD [dra]")
}
