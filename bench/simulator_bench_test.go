package bench

import (
	"context"
	"runtime/debug"
	"testing"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/engine"
	"github.com/gantry-dev/gantry/simulator/trace"
)

const shippedTrace = "../simulator/trace/testdata/alibaba-gpu-v2023"

func loadTrace(b *testing.B, variant string) trace.Trace {
	b.Helper()
	t, err := trace.LoadDir(shippedTrace, variant)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

func benchInflation(b *testing.B, t trace.Trace, p policy.Type) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	b.ReportAllocs()
	var r *engine.InflationResult
	for b.Loop() {
		var err error
		r, err = engine.RunInflation(context.Background(), engine.Config{Trace: t, Policy: p, Seed: 42})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(r.Headline(), "alloc%@130")
	b.ReportMetric(float64(r.Submitted), "pods/run")
}

// BenchmarkInflationFGD is one full FGD inflation run on the openb default
// trace (1,213 nodes, 10,866 pods submitted), seed 42, 130 %.
func BenchmarkInflationFGD(b *testing.B) {
	benchInflation(b, loadTrace(b, "default"), policy.FGD)
}

// BenchmarkInflationSmallFGD is the same on a tenth of the trace (the first
// 121 nodes and 815 pods).
func BenchmarkInflationSmallFGD(b *testing.B) {
	t := loadTrace(b, "default")
	t.Nodes, t.Pods = t.Nodes[:121], t.Pods[:815]
	benchInflation(b, t, policy.FGD)
}
