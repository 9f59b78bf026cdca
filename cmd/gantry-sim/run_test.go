package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeSmallTrace(t *testing.T, dir string) (nodes, pods string) {
	t.Helper()
	var nb, pb strings.Builder
	nb.WriteString("sn,cpu_milli,memory_mib,gpu,model\n")
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&nb, "node-%02d,32000,131072,%d,%s\n", i, 1+i%4, []string{"T4", "P100", "G2"}[i%3])
	}
	pb.WriteString("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n")
	shares := []int{250, 500, 1000, 300, 0, 700}
	for i := 0; i < 20; i++ {
		g := shares[i%len(shares)]
		n := 1
		if g == 0 {
			n = 0
		}
		fmt.Fprintf(&pb, "pod-%03d,%d,1024,%d,%d,,LS,Running,%d,%d,%d\n", i, 1000+500*(i%4), n, g, i*10, i*10+100, i*10)
	}
	nodes, pods = filepath.Join(dir, "nodes.csv"), filepath.Join(dir, "pods.csv")
	require.NoError(t, os.WriteFile(nodes, []byte(nb.String()), 0o644))
	require.NoError(t, os.WriteFile(pods, []byte(pb.String()), 0o644))
	return nodes, pods
}

func execute(args ...string) (string, error) {
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		m[e.Name()] = b
	}
	return m
}

func TestRunIsByteIdentical(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	var outs []map[string][]byte
	for i := 0; i < 2; i++ {
		out := filepath.Join(tmp, fmt.Sprint("out", i))
		_, err := execute("run", "--nodes", nodes, "--pods", pods, "--policies", "FGD,BestFit,Random", "--seeds", "1-2", "--out", out, "--no-timing", "--progress", "never")
		require.NoError(t, err)
		outs = append(outs, readDir(t, out))
	}
	require.Contains(t, outs[0], "report.md")
	require.Contains(t, outs[0], "unallocated.png")
	require.Contains(t, outs[0], "placements-FGD-seed1.csv")
	require.Contains(t, outs[0], "curves.csv")
	require.Contains(t, outs[0], "summary.json")
	for name, b := range outs[0] {
		if name == "report.md" {
			continue // names the output folder in its command line
		}
		assert.Equal(t, string(b), string(outs[1][name]), name)
	}
}

func TestOtherExperiments(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	for _, e := range []string{"replay", "sharing-gain"} {
		out := filepath.Join(tmp, e)
		_, err := execute("run", "--experiment", e, "--nodes", nodes, "--pods", pods, "--policies", "BestFit", "--out", out, "--progress", "never")
		require.NoError(t, err, e)
		b, err := os.ReadFile(filepath.Join(out, "report.md"))
		require.NoError(t, err)
		assert.Contains(t, string(b), "BestFit")
	}
}

// A gpu_spec that names a model twice, as rows of the reference's published
// gpuspec lists do, is read (the reference reads it) and the repair is shown
// on stderr and in the report.
func TestRepairedTraceRunsAndSaysWhatWasRepaired(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	b, err := os.ReadFile(pods)
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	lines[2] = "pod-dup,1000,1024,1,500,T4|P100|P100,LS,Running,0,10,0"
	lines[3] = "pod-dup2,1000,1024,1,500,G2|G2,LS,Running,0,10,0"
	require.NoError(t, os.WriteFile(pods, []byte(strings.Join(lines, "\n")), 0o644))
	out := filepath.Join(tmp, "out")
	stderr, err := execute("run", "--nodes", nodes, "--pods", pods, "--policies", "FGD", "--out", out, "--progress", "never", "--no-timing")
	require.NoError(t, err)
	want := "2 rows: gpu_spec names a model more than once (repeats dropped)"
	assert.Contains(t, stderr, "repaired "+want)
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(report), "- "+want+"\n")
}

func TestMalformedTraceNamesFileAndLineAndWritesNothing(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	b, err := os.ReadFile(pods)
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	lines[4] = "pod-bad,1000,1024,1,abc,,LS,Running,0,10,0"
	require.NoError(t, os.WriteFile(pods, []byte(strings.Join(lines, "\n")), 0o644))
	out := filepath.Join(tmp, "out")
	_, err = execute("run", "--nodes", nodes, "--pods", pods, "--out", out, "--progress", "never")
	require.Error(t, err)
	assert.Contains(t, err.Error(), pods+":5:")
	_, statErr := os.Stat(out)
	assert.True(t, os.IsNotExist(statErr), "nothing may be written on bad input")
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--policies", "Nope"},
		{"run", "--seeds", "x"},
		{"run", "--experiment", "nope"},
		{"run", "--parallel", "0"},
		{"run", "--workload", "guessed"},
		{"run", "--workload", "learned", "--experiment", "sharing-gain"},
		{"run", "--scheduler-config", "/nonexistent.yaml"},
		{"run", "--scheduler-config", "x.yaml", "--experiment", "replay"},
	} {
		_, err := execute(args...)
		assert.Error(t, err, args)
	}
	s, err := parseSeeds("42-44,7")
	require.NoError(t, err)
	assert.Equal(t, []int64{42, 43, 44, 7}, s)
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	cmd := newRunCommand()
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		assert.NotEmpty(t, f.Usage, f.Name)
	})
	out, err := execute("run", "--help")
	require.NoError(t, err)
	for _, name := range []string{"--nodes", "--pods", "--trace-dir", "--variant", "--policies", "--seeds", "--ratio", "--experiment", "--out", "--parallel", "--progress", "--no-timing"} {
		assert.Contains(t, out, name)
	}
}

func TestGantryFormatInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	_, err := execute("run", "--pods", "../../simulator/trace/testdata/gantry/example.yaml", "--policies", "FGD", "--out", out, "--progress", "never")
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(out, "summary.csv"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "FGD,42,")
}

func TestPublishedVariant(t *testing.T) {
	tests := []struct{ nodes, pods, want string }{
		{"d/openb_node_list_gpu_node.csv", "d/openb_pod_list_multigpu20.csv", "multigpu20"},
		{"openb_node_list_gpu_node.csv", "/x/openb_pod_list_default.csv", "default"},
		// Another cluster is not the published experiment.
		{"d/openb_node_list_all_node.csv", "d/openb_pod_list_default.csv", ""},
		{"d/openb_node_list_gpu_node.csv", "d/my_pods.csv", ""},
		{"d/openb_node_list_gpu_node.csv", "d/openb_pod_list_default.yaml", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, publishedVariant(tt.nodes, tt.pods), "%s %s", tt.nodes, tt.pods)
	}
}

func TestWorkloadBothComparesLearnedWithTrace(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	out := filepath.Join(tmp, "out")
	_, err := execute("run", "--nodes", nodes, "--pods", pods, "--policies", "FGD", "--workload", "both", "--out", out, "--no-timing", "--progress", "never")
	require.NoError(t, err)
	files := readDir(t, out)
	require.Contains(t, files, "placements-FGD-seed42.csv")
	require.Contains(t, files, "placements-FGD-learned-seed42.csv")
	assert.Contains(t, string(files["summary.csv"]), "FGD (learned workload),42,")
	assert.Contains(t, string(files["report.md"]), "## Trace workload vs learned estimate")

	replay := filepath.Join(tmp, "replay")
	_, err = execute("run", "--experiment", "replay", "--nodes", nodes, "--pods", pods, "--policies", "FGD", "--workload", "both", "--out", replay, "--no-timing", "--progress", "never")
	require.NoError(t, err)
	files = readDir(t, replay)
	require.Contains(t, files, "placements-FGD-learned-seed42.csv")
	assert.Contains(t, string(files["report.md"]), "FGD (learned workload)")
}

func TestSchedulerConfigRunsTheShippedProfile(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	out := filepath.Join(tmp, "out")
	_, err := execute("run", "--nodes", nodes, "--pods", pods, "--policies", "FGD", "--scheduler-config", "../../manifests/scheduler/scheduler-config.yaml", "--out", out, "--no-timing", "--progress", "never")
	require.NoError(t, err)
	assert.Contains(t, string(readDir(t, out)["summary.csv"]), "FGD,42,")
}
