package bound

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/simulator/trace"
	"github.com/gantry-dev/gantry/simulator/workload"
)

// TestBoundsPublishedResults: on every shipped trace at seed 42 the bound
// is at least the best allocation the reference simulator published for
// that trace (fgd-anchor §6, FGD's seed-42 value; an external fact a sound
// bound can never fall below) and at most 100 %.
func TestBoundsPublishedResults(t *testing.T) {
	published := map[string]float64{
		"default": 95.29, "gpushare40": 94.24, "gpushare60": 91.36, "gpushare80": 89.20, "gpushare100": 86.85,
		"multigpu20": 95.51, "multigpu30": 96.53, "multigpu40": 97.02, "multigpu50": 97.16,
	}
	dir := "../trace/testdata/alibaba-gpu-v2023/"
	for variant, fgd := range published {
		t.Run(variant, func(t *testing.T) {
			tr, err := trace.Load(dir+trace.GPUNodeListFile, dir+trace.PodListFile(variant))
			require.NoError(t, err)
			var capacity int64
			for _, n := range tr.Nodes {
				capacity += n.GPUMilli()
			}
			r, err := Inflation(tr, workload.Inflate(tr.Pods, 42, workload.DefaultTuneRatio, capacity), workload.DefaultTuneRatio)
			require.NoError(t, err)
			t.Logf("bound %.2f %% (%d pods), FGD published %.2f %%", r.Percent(), r.Pods, fgd)
			require.GreaterOrEqual(t, r.Percent(), fgd)
			require.LessOrEqual(t, r.Percent(), 100.0)
			require.InDelta(t, r.LPMilli, float64(r.Milli), 2, "primal and certified dual differ")
		})
	}
}

// BenchmarkInflationBound is the bound's cost on the openb default trace
// (seed 42, 130 %), which every inflation run pays once:
//
//	go test -run '^$' -bench InflationBound -benchmem ./simulator/bound/
func BenchmarkInflationBound(b *testing.B) {
	dir := "../trace/testdata/alibaba-gpu-v2023/"
	tr, err := trace.Load(dir+trace.GPUNodeListFile, dir+trace.PodListFile("default"))
	require.NoError(b, err)
	var capacity int64
	for _, n := range tr.Nodes {
		capacity += n.GPUMilli()
	}
	pods := workload.Inflate(tr.Pods, 42, workload.DefaultTuneRatio, capacity)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Inflation(tr, pods, workload.DefaultTuneRatio); err != nil {
			b.Fatal(err)
		}
	}
}
