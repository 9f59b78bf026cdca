package dra_test

import (
	"context"
	"runtime/debug"
	"testing"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/engine"
)

// BenchmarkInflationModes is one FGD inflation run (seed 42, 130 %) on
// every 16th node of the default trace (76 nodes, 735 pods submitted), in
// each mode side by side: device-plugin mode is the baseline the DRA modes
// are read against (pods/s).
func BenchmarkInflationModes(b *testing.B) {
	tr := cut(b, "default", 16)
	for _, m := range engine.Modes() {
		b.Run(string(m), func(b *testing.B) {
			defer debug.SetGCPercent(debug.SetGCPercent(400))
			b.ReportAllocs()
			var r *engine.InflationResult
			for b.Loop() {
				var err error
				r, err = engine.RunInflation(context.Background(), engine.Config{Trace: tr, Policy: policy.FGD, Seed: 42, Mode: m})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(r.Submitted)*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
			b.ReportMetric(r.Headline(), "alloc%@130")
		})
	}
}
