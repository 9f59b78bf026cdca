package report

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/simulator/engine"
)

// Every DRA run is set against the device-plugin run of its policy and
// seed (the stock plugin's against every policy of its seed), pod by pod.
func TestModeRows(t *testing.T) {
	dp := results() // FGD 2, BestFit 1, FGD 1; device-plugin mode
	dra := *dp[2]
	dra.Mode = engine.DRA
	upstream := *dp[2]
	upstream.Mode = engine.DRAUpstream
	upstream.AllocatedMilli = 800
	upstream.Placements = []engine.Placement{{Pod: "a", Node: "n2", Devices: []int{0, 2}}, {Pod: "b"}}
	upstream.Samples = []engine.Sample{{ArrivedMilli: 1300, AllocatedMilli: 800}}
	upstream.Curve = engine.BinCurve(upstream.Samples, 1000)
	got := ModeRows(append(dp, &dra, &upstream))
	want := []ModeRow{
		{Policy: "FGD", Mode: engine.DRA, Seed: 1, DRA: 94, DevicePlugin: 94, FailedDRA: 1, FailedDevicePlugin: 1, Same: 2, Pods: 2},
		{Policy: "BestFit", Mode: engine.DRAUpstream, Seed: 1, DRA: 80, DevicePlugin: 90, FailedDRA: 1, FailedDevicePlugin: 1, Same: 1, Pods: 2, FirstDiffer: "a"},
		{Policy: "FGD", Mode: engine.DRAUpstream, Seed: 1, DRA: 80, DevicePlugin: 94, FailedDRA: 1, FailedDevicePlugin: 1, Same: 1, Pods: 2, FirstDiffer: "a"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ModeRows (-want,+got):\n%s", d)
	}
	require.Empty(t, ModeRows(dp), "no DRA run, no comparison")

	var b strings.Builder
	writeModes(&b, append(dp, &dra, &upstream))
	require.Contains(t, b.String(), "| FGD | dra | 1 | 94.00 % | 94.00 % | +0.00 pp | 1 | 1 | 2 of 2 | none |")
	require.Contains(t, b.String(), "| FGD | dra-upstream | 1 | 80.00 % | 94.00 % | -14.00 pp | 1 | 1 | 1 of 2 | `a` |")
	require.Equal(t, "none [dra-upstream]", PolicyLabel(&upstream))
	require.Equal(t, "FGD [dra]", PolicyLabel(&dra))
	require.Contains(t, modesLine(append(dp, &dra)), "Modes: device-plugin, dra.")
	require.Contains(t, modesLine(dp), "Mode: device-plugin.")
}
