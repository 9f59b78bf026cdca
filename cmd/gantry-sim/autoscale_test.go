package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const smallAutoscalerConfig = `apiVersion: gantry.dev/v1alpha1
kind: AutoscalerConfiguration
nodeGroups:
  - name: t4
    template:
      device: {kind: gpu, model: T4, count: 2, memoryMiB: 16384}
      cpu: "32"
      memory: 128Gi
    maxSize: 4
    pricePerHour: 2
  - name: g2
    template:
      device: {kind: gpu, model: G2, count: 4, memoryMiB: 16384}
      cpu: "32"
      memory: 128Gi
    maxSize: 2
    pricePerHour: 8
scaleDown:
  unneededTime: 1m
  delayAfterAdd: 1m
scanInterval: 10s
`

func TestReplayWithAutoscalerIsByteIdentical(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	cfg := filepath.Join(tmp, "autoscaler.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(smallAutoscalerConfig), 0o644))
	var outs []map[string][]byte
	for i := 0; i < 2; i++ {
		out := filepath.Join(tmp, fmt.Sprint("out", i))
		_, err := execute("run", "--experiment", "replay", "--autoscaler-config", cfg, "--boot-delay", "30s", "--keep-nodes", "1",
			"--nodes", nodes, "--pods", pods, "--policies", "FGD,BestFit", "--seeds", "1-2", "--out", out, "--no-timing", "--progress", "never")
		require.NoError(t, err)
		outs = append(outs, readDir(t, out))
	}
	for _, f := range []string{"report.md", "summary.json", "scaling-FGD-seed1.csv", "placements-BestFit-seed2.csv"} {
		require.Contains(t, outs[0], f)
	}
	assert.Contains(t, string(outs[0]["report.md"]), "with autoscaler")
	assert.Contains(t, string(outs[0]["scaling-FGD-seed1.csv"]), ",add,")
	assert.Contains(t, string(outs[0]["scaling-FGD-seed1.csv"]), ",remove,")
	for name, b := range outs[0] {
		if name == "report.md" {
			continue // names the output folder in its command line
		}
		assert.Equal(t, string(b), string(outs[1][name]), name)
	}
}

func TestMalformedAutoscalerConfigGivesFieldPathAndWritesNothing(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	for name, c := range map[string]struct{ yaml, want string }{
		"invalid":       {strings.Replace(smallAutoscalerConfig, "maxSize: 2", "maxSize: -1", 1), "nodeGroups[1].maxSize"},
		"unknown field": {strings.Replace(smallAutoscalerConfig, "pricePerHour: 8", "pricePerHour: 8\n    bootDelay: 1m", 1), "bootDelay"},
		"wrong kind":    {strings.Replace(smallAutoscalerConfig, "kind: AutoscalerConfiguration", "kind: Nope", 1), "kind"},
	} {
		cfg := filepath.Join(tmp, "autoscaler.yaml")
		require.NoError(t, os.WriteFile(cfg, []byte(c.yaml), 0o644))
		out := filepath.Join(tmp, "out")
		_, err := execute("run", "--experiment", "replay", "--autoscaler-config", cfg, "--nodes", nodes, "--pods", pods, "--policies", "FGD", "--out", out, "--progress", "never")
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), cfg, name)
		assert.Contains(t, err.Error(), c.want, name)
		_, statErr := os.Stat(out)
		assert.True(t, os.IsNotExist(statErr), "nothing may be written on a bad config (%s)", name)
	}
}

func TestShippedAutoscalerConfigLoads(t *testing.T) {
	tmp := t.TempDir()
	nodes, pods := writeSmallTrace(t, tmp)
	out := filepath.Join(tmp, "out")
	_, err := execute("run", "--experiment", "replay", "--autoscaler-config", "../../simulator/engine/testdata/autoscaler-openb.yaml",
		"--nodes", nodes, "--pods", pods, "--policies", "FGD", "--out", out, "--progress", "never")
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "g2-8: 8x G2")
}
