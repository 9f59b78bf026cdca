package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gantry-dev/gantry/simulator/sweep"
)

// envAsMain makes the test binary run gantry-sim's main instead of the
// tests, so a test can start cells as separate processes, as the Job does.
const envAsMain = "GANTRY_SIM_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envAsMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writeTraceDir writes two small openb pod-list variants on one GPU node list.
func writeTraceDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	nodes, pods := writeSmallTrace(t, t.TempDir())
	data, err := os.ReadFile(nodes)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "openb_node_list_gpu_node.csv"), data, 0o644))
	p, err := os.ReadFile(pods)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "openb_pod_list_small.csv"), p, 0o644))
	// "half": every other pod of the same list.
	lines := strings.Split(strings.TrimSpace(string(p)), "\n")
	half := []string{lines[0]}
	for i := 1; i < len(lines); i += 2 {
		half = append(half, lines[i])
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "openb_pod_list_half.csv"), []byte(strings.Join(half, "\n")+"\n"), 0o644))
	return dir
}

// TestSweepMergeEqualsRun runs, for each experiment a grid can hold, every
// cell as its own process with JOB_COMPLETION_INDEX set, as the Indexed
// Job runs them, merges them, and requires each trace's report to be
// byte-identical to the single gantry-sim run that merge records (which
// the test then runs).
func TestSweepMergeEqualsRun(t *testing.T) {
	traces := writeTraceDir(t)
	autoscaler := filepath.Join(t.TempDir(), "autoscaler.yaml")
	require.NoError(t, os.WriteFile(autoscaler, []byte(smallAutoscalerConfig), 0o644))
	tests := []struct {
		name string
		// grid is the experiment's part of the grid; run is the single
		// run's --experiment and its flags beyond trace, variant,
		// policies, seeds and out.
		grid, seeds string
		run         []string
		// files must be among the report's.
		files []string
	}{
		{name: "inflation", grid: "ratio: 1.2\n", seeds: "7-8", run: []string{"--experiment", "inflation", "--ratio", "1.2"},
			files: []string{"report.md", "curves.csv", "placements-BestFit-seed8.csv"}},
		{name: "replay", grid: "experiment: replay\n", seeds: "7", run: []string{"--experiment", "replay"},
			files: []string{"report.md", "summary.json", "placements-FGD-seed7.csv"}},
		{name: "replay with the autoscaler", seeds: "7",
			grid:  "experiment: replay\nautoscaler: {config: " + autoscaler + ", bootDelay: 30s, keepNodes: 1}\n",
			run:   []string{"--experiment", "replay", "--autoscaler-config", autoscaler, "--boot-delay", "30s", "--keep-nodes", "1"},
			files: []string{"report.md", "summary.json", "scaling-FGD-seed7.csv"}},
		{name: "sharing gain", grid: "experiment: sharing-gain\n", seeds: "7-8", run: []string{"--experiment", "sharing-gain"},
			files: []string{"report.md", "summary.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			grid := filepath.Join(work, "grid.yaml")
			require.NoError(t, os.WriteFile(grid, []byte(fmt.Sprintf(`apiVersion: gantry.dev/v1alpha1
kind: Sweep
traceDir: %s
traces: [{variant: small}, {variant: half}]
policies: [FGD, BestFit]
seeds: "%s"
%s`, traces, tc.seeds, tc.grid)), 0o644))
			seeds, err := sweep.ParseSeeds(tc.seeds)
			require.NoError(t, err)
			cells := 2 * 2 * len(seeds)

			// The Job.
			out, err := execute("sweep", "--grid", grid, "--name", "fgd-sweep", "--namespace", "sim", "--image", "ghcr.io/gantry-dev/gantry-sim:v9", "--parallelism", "3")
			require.NoError(t, err, out)
			docs := strings.Split(out, "\n---\n")
			require.Len(t, docs, 2, out)
			var job batchv1.Job
			require.NoError(t, sigsyaml.UnmarshalStrict([]byte(docs[1]), &job))
			require.Equal(t, batchv1.IndexedCompletion, *job.Spec.CompletionMode)
			require.Equal(t, int32(cells), *job.Spec.Completions)
			require.Equal(t, int32(3), *job.Spec.Parallelism)
			require.Equal(t, []string{"/gantry-sim", "cell", "--grid=/etc/gantry-sim/grid.yaml", "--results=/data/results"}, job.Spec.Template.Spec.Containers[0].Command)
			var cm corev1.ConfigMap
			require.NoError(t, sigsyaml.UnmarshalStrict([]byte(docs[0]), &cm))
			inJob, err := sweep.Load([]byte(cm.Data["grid.yaml"]))
			require.NoError(t, err)
			if inJob.Autoscaler != nil {
				require.Equal(t, sweep.AutoscalerFile, inJob.Autoscaler.Config, "the cells read the ConfigMap's copy")
				require.Equal(t, smallAutoscalerConfig, cm.Data["autoscaler-config.yaml"])
			}

			// Each index its own process.
			results := filepath.Join(work, "results")
			var wg sync.WaitGroup
			errs := make([]error, cells)
			outs := make([][]byte, cells)
			for i := 0; i < cells; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cmd := exec.Command(os.Args[0], "cell", "--grid", grid, "--results", results)
					cmd.Env = append(os.Environ(), envAsMain+"=1", "JOB_COMPLETION_INDEX="+strconv.Itoa(i))
					outs[i], errs[i] = cmd.CombinedOutput()
				}()
			}
			wg.Wait()
			for i := range errs {
				require.NoError(t, errs[i], "cell %d: %s", i, outs[i])
			}

			merged := filepath.Join(work, "merged")
			out, err = execute("merge", "--grid", grid, "--results", results, "--out", merged, "--no-timing")
			require.NoError(t, err, out)

			for _, variant := range []string{"small", "half"} {
				dir := filepath.Join(merged, variant)
				single := filepath.Join(work, "single-"+variant)
				report, err := os.ReadFile(filepath.Join(dir, "report.md"))
				require.NoError(t, err)
				// The command merge records, run for real (into dir's own
				// path, so the recorded command is identical: the merged
				// report is moved away first).
				args := append([]string{"run", tc.run[0], tc.run[1], "--trace-dir", traces, "--variant", variant, "--policies", "FGD,BestFit", "--seeds", tc.seeds},
					append(append([]string(nil), tc.run[2:]...), "--no-timing", "--out", dir)...)
				require.Contains(t, string(report), strings.Join(append([]string{"gantry-sim"}, args...), " "), "merge records the equivalent run")
				cmd := exec.Command(os.Args[0], args...)
				cmd.Env = append(os.Environ(), envAsMain+"=1")
				cmd.Dir = work
				require.NoError(t, os.Rename(dir, single))
				b, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s", b)
				want, got := readDir(t, dir), readDir(t, single)
				for _, f := range tc.files {
					require.Contains(t, want, f)
				}
				for name := range want {
					if diff := cmp.Diff(string(want[name]), string(got[name])); diff != "" {
						t.Errorf("%s/%s: merged differs from the single run (-run,+merge):\n%s", variant, name, diff)
					}
				}
				require.Equal(t, len(want), len(got), "files in %s", variant)
			}
		})
	}
}

// TestMergeRefusesAnotherExperiment: cells written for an inflation grid
// are not taken for a replay grid of the same traces, policies and seeds.
func TestMergeRefusesAnotherExperiment(t *testing.T) {
	traces := writeTraceDir(t)
	dir := t.TempDir()
	base := "apiVersion: gantry.dev/v1alpha1\nkind: Sweep\ntraceDir: " + traces + "\ntraces: [{variant: small}]\npolicies: [FGD]\nseeds: '1'\n"
	inflation, replay := filepath.Join(dir, "inflation.yaml"), filepath.Join(dir, "replay.yaml")
	require.NoError(t, os.WriteFile(inflation, []byte(base), 0o644))
	require.NoError(t, os.WriteFile(replay, []byte(base+"experiment: replay\n"), 0o644))
	results := t.TempDir()
	_, err := execute("cell", "--grid", inflation, "--results", results, "--index", "0")
	require.NoError(t, err)
	_, err = execute("merge", "--grid", replay, "--results", results, "--out", t.TempDir())
	require.ErrorContains(t, err, "the results folder belongs to another grid")
}

// TestSweepChecksAutoscalerConfig: a grid's autoscaler configuration is
// decoded when the Job is written, so a bad one fails there with its
// field path rather than in every cell.
func TestSweepChecksAutoscalerConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "autoscaler.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(smallAutoscalerConfig, "maxSize: 2", "maxSize: -1", 1)), 0o644))
	grid := filepath.Join(dir, "grid.yaml")
	require.NoError(t, os.WriteFile(grid, []byte("apiVersion: gantry.dev/v1alpha1\nkind: Sweep\ntraceDir: /data/t\ntraces: [{variant: small}]\npolicies: [FGD]\nseeds: '1'\nexperiment: replay\nautoscaler: {config: "+bad+"}\n"), 0o644))
	_, err := execute("sweep", "--grid", grid)
	require.ErrorContains(t, err, "autoscaler.config")
	require.ErrorContains(t, err, "nodeGroups[1].maxSize")
}

func TestMergeNamesMissingCells(t *testing.T) {
	traces := writeTraceDir(t)
	grid := filepath.Join(t.TempDir(), "grid.yaml")
	require.NoError(t, os.WriteFile(grid, []byte("apiVersion: gantry.dev/v1alpha1\nkind: Sweep\ntraceDir: "+traces+"\ntraces: [{variant: small}]\npolicies: [FGD]\nseeds: 1-4\n"), 0o644))
	results := t.TempDir()
	_, err := execute("cell", "--grid", grid, "--results", results, "--index", "1")
	require.NoError(t, err)
	_, err = execute("merge", "--grid", grid, "--results", results, "--out", t.TempDir())
	require.ErrorIs(t, err, sweep.ErrMissingCells)
	require.ErrorContains(t, err, "3 of 4 (indexes 0,2-3)")

	_, err = execute("cell", "--grid", grid, "--results", results, "--index", "4")
	require.ErrorContains(t, err, "cell index 4: the grid has cells 0..3")
}

// TestExampleGridsMakeJobs: every grid in examples/sweep writes its Job
// from the repository root, as its header shows (the playground test
// applies them to an API server).
func TestExampleGridsMakeJobs(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	tests := []struct {
		grid, name string
		cells      int32
		autoscaler bool
	}{
		{grid: "examples/sweep/grid.yaml", name: "gantry-sim-sweep", cells: 360},
		{grid: "examples/sweep/replay-autoscaler-grid.yaml", name: "gantry-sim-autoscale", cells: 18, autoscaler: true},
		{grid: "examples/sweep/sharing-gain-grid.yaml", name: "gantry-sim-sharing", cells: 36},
	}
	for _, tc := range tests {
		t.Run(tc.grid, func(t *testing.T) {
			out, err := execute("sweep", "--grid", tc.grid, "--name", tc.name)
			require.NoError(t, err, out)
			docs := strings.Split(out, "\n---\n")
			require.Len(t, docs, 2, out)
			var cm corev1.ConfigMap
			require.NoError(t, sigsyaml.UnmarshalStrict([]byte(docs[0]), &cm))
			var job batchv1.Job
			require.NoError(t, sigsyaml.UnmarshalStrict([]byte(docs[1]), &job))
			require.Equal(t, tc.name, job.Name)
			require.Equal(t, tc.cells, *job.Spec.Completions)
			_, has := cm.Data["autoscaler-config.yaml"]
			require.Equal(t, tc.autoscaler, has, "the autoscaler configuration rides in the ConfigMap")
		})
	}
}
