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

// TestSweepMergeEqualsRun runs every cell of a 2 traces x 2 policies x 2
// seeds grid as its own process with JOB_COMPLETION_INDEX set, as the
// Indexed Job runs them, merges them, and requires each trace's report to
// be byte-identical to a single gantry-sim run's.
func TestSweepMergeEqualsRun(t *testing.T) {
	traces := writeTraceDir(t)
	work := t.TempDir()
	grid := filepath.Join(work, "grid.yaml")
	require.NoError(t, os.WriteFile(grid, []byte(fmt.Sprintf(`apiVersion: gantry.dev/v1alpha1
kind: Sweep
ratio: 1.2
traceDir: %s
traces: [{variant: small}, {variant: half}]
policies: [FGD, BestFit]
seeds: "7-8"
`, traces)), 0o644))

	// The Job.
	out, err := execute("sweep", "--grid", grid, "--name", "fgd-sweep", "--namespace", "sim", "--image", "ghcr.io/gantry-dev/gantry-sim:v9", "--parallelism", "3")
	require.NoError(t, err, out)
	docs := strings.Split(out, "\n---\n")
	require.Len(t, docs, 2, out)
	var job batchv1.Job
	require.NoError(t, sigsyaml.UnmarshalStrict([]byte(docs[1]), &job))
	require.Equal(t, batchv1.IndexedCompletion, *job.Spec.CompletionMode)
	require.Equal(t, int32(8), *job.Spec.Completions)
	require.Equal(t, int32(3), *job.Spec.Parallelism)
	require.Equal(t, []string{"/gantry-sim", "cell", "--grid=/etc/gantry-sim/grid.yaml", "--results=/data/results"}, job.Spec.Template.Spec.Containers[0].Command)

	// Each index its own process.
	results := filepath.Join(work, "results")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	outs := make([][]byte, 8)
	for i := 0; i < 8; i++ {
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
		// The command merge records, run for real (into another folder,
		// then compared with the --out the command names replaced).
		args := []string{"run", "--experiment", "inflation", "--trace-dir", traces, "--variant", variant,
			"--policies", "FGD,BestFit", "--seeds", "7-8", "--ratio", "1.2", "--no-timing", "--out", dir}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), envAsMain+"=1")
		cmd.Dir = work
		// Run into dir's own path so the recorded command is identical:
		// move the merged report away first.
		require.NoError(t, os.Rename(dir, single))
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", b)
		want, got := readDir(t, dir), readDir(t, single)
		require.NotEmpty(t, want)
		for name := range want {
			if diff := cmp.Diff(string(want[name]), string(got[name])); diff != "" {
				t.Errorf("%s/%s: merged differs from the single run (-run,+merge):\n%s", variant, name, diff)
			}
		}
		require.Equal(t, len(want), len(got), "files in %s", variant)
	}
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
