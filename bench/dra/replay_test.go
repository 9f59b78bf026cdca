package dra_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/engine"
	"github.com/gantry-dev/gantry/simulator/trace"
)

const shippedTrace = "../../simulator/trace/testdata/alibaba-gpu-v2023"

// cut keeps every stride-th node of the trace (stride 1: all of them).
func cut(t testing.TB, variant string, stride int) trace.Trace {
	t.Helper()
	tr, err := trace.LoadDir(shippedTrace, variant)
	require.NoError(t, err)
	var kept []trace.Node
	for i := 0; i < len(tr.Nodes); i += stride {
		kept = append(kept, tr.Nodes[i])
	}
	tr.Nodes = kept
	return tr
}

// alike counts the pods a and b placed on the same node and cards (or
// failed in both).
func alike(a, b *engine.InflationResult) int {
	n := 0
	for i, p := range a.Placements {
		q := b.Placements[i]
		if p.Pod == q.Pod && p.Node == q.Node && slices.Equal(p.Devices, q.Devices) {
			n++
		}
	}
	return n
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// TestDRAReplay runs the FGD paper's inflation experiment (engine.RunInflation,
// gantry-sim's code path) in every mode on a cut of the default trace:
// FGD in DRA mode (GantryDRA) must give exactly the device-plugin run, every
// pod on the same node and cards, every sample alike; upstream's choices
// (FGD's node score with first-fit cards, and the stock plugin with no
// score) run beside it and must be plausible. The environment picks the
// experiment:
//
//	GANTRY_DRA_TRACE        pod list (default "default")
//	GANTRY_DRA_NODE_STRIDE  keep every n-th node (default 16: 76 of 1213)
//	GANTRY_DRA_SEED         the protocol's seed (default 42)
//
// The whole default trace is gantry-sim's (bench/README.md): on the
// default cut this test takes about a minute of CPU.
func TestDRAReplay(t *testing.T) {
	variant := os.Getenv("GANTRY_DRA_TRACE")
	if variant == "" {
		variant = "default"
	}
	stride := envInt(t, "GANTRY_DRA_NODE_STRIDE", 16)
	tr := cut(t, variant, stride)
	seed := int64(envInt(t, "GANTRY_DRA_SEED", 42))
	ctx := context.Background()
	results := map[engine.Mode]*engine.InflationResult{}
	for _, m := range engine.Modes() {
		r, err := engine.RunInflation(ctx, engine.Config{Trace: tr, Policy: policy.FGD, Seed: seed, Mode: m})
		require.NoError(t, err, m)
		require.Equal(t, m, r.Mode)
		results[m] = r
	}
	dp := results[engine.DevicePlugin]
	require.NotZero(t, dp.Failed, "the cut is inflated past what fits")
	if d := cmp.Diff(dp, results[engine.DRA], cmpopts.IgnoreFields(engine.InflationResult{}, "Wall", "Mode")); d != "" {
		t.Fatalf("FGD in DRA mode differs from device-plugin mode (-device-plugin,+dra):\n%s", d)
	}
	var b strings.Builder
	b.WriteString("| mode | allocation at 130 % | tasks failed | pods placed alike (device-plugin FGD) |\n|---|---:|---:|---:|\n")
	for _, m := range engine.Modes() {
		r := results[m]
		b.WriteString("| " + string(m) + " | " + strconv.FormatFloat(r.Headline(), 'f', 2, 64) + " % | " + strconv.Itoa(r.Failed) + " | " + strconv.Itoa(alike(dp, r)) + " of " + strconv.Itoa(r.Submitted) + " |\n")
	}
	t.Logf("trace %s, every %d-th node (%d nodes), seed %d, %d pods submitted:\n%s", variant, stride, len(tr.Nodes), seed, dp.Submitted, b.String())
	for _, m := range []engine.Mode{engine.DRAFirstFit, engine.DRAUpstream} {
		r := results[m]
		require.Equal(t, dp.Submitted, r.Submitted, m)
		require.LessOrEqual(t, r.AllocatedMilli, r.CapacityMilli, m)
		require.LessOrEqual(t, r.Headline(), r.Bound.Percent(), "%s: above the bound no policy can pass", m)
		require.Greater(t, r.Headline(), 80.0, "%s: a cluster inflated to 130 %% ends far fuller", m)
	}
	require.Less(t, alike(dp, results[engine.DRAUpstream]), dp.Submitted/2, "the stock plugin, first feasible node and first-fit card, places most pods elsewhere than FGD")
	if stride == 16 && variant == "default" && seed == 42 {
		// On this cut first-fit cards change placements (655 of 735 alike
		// at seed 42); on others they may not (all alike on every 8th
		// node at seed 42), so only this cut checks it.
		require.Less(t, alike(dp, results[engine.DRAFirstFit]), dp.Submitted, "first-fit cards differ from FGD's somewhere")
	}
}
