package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/engine"
	"github.com/gantry-dev/gantry/simulator/report"
	"github.com/gantry-dev/gantry/simulator/trace"
)

// TestLookaheadFGDAllocatesAtLeastAsMuchAsFGD guards Gantry's own policy's
// claim (bench/README.md, "Our own policy"): on the paper's protocol it
// leaves no more GPU unallocated than FGD. One trace of each family the
// claim is measured on, each with another seed; on gpushare40 seed 44 the
// two tie at 130 % (94.24 %), the smallest margin in the measured grid, so
// any loss there fails the guard. Both
// policies run through the real scheduler framework: six full runs, 196 s
// on the project's 2-core machine at load average 5-9 (bench/README.md).
func TestLookaheadFGDAllocatesAtLeastAsMuchAsFGD(t *testing.T) {
	tests := []struct {
		variant string
		seed    int64
	}{
		{variant: "default", seed: 42},
		{variant: "gpushare40", seed: 44},
		{variant: "multigpu20", seed: 43},
	}
	for _, tt := range tests {
		tr, err := trace.LoadDir(shippedTrace, tt.variant)
		require.NoError(t, err)
		t.Run(fmt.Sprintf("%s/seed%d", tt.variant, tt.seed), func(t *testing.T) {
			t.Parallel()
			pols := []policy.Type{policy.FGD, policy.LookaheadFGD}
			results := make([]*engine.InflationResult, len(pols))
			errs := make([]error, len(pols))
			var wg sync.WaitGroup
			for i, p := range pols {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = engine.RunInflation(context.Background(), engine.Config{Trace: tr, Policy: p, Seed: tt.seed, Ratio: report.PublishedRatio})
				}()
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			fgd, ours := results[0], results[1]
			t.Logf("%s seed %d: FGD %.2f %% (%d failed), LookaheadFGD %.2f %% (%d failed)",
				tt.variant, tt.seed, fgd.Headline(), fgd.Failed, ours.Headline(), ours.Failed)
			assert.GreaterOrEqual(t, ours.Headline(), fgd.Headline(), "LookaheadFGD left more GPU unallocated than FGD")
		})
	}
}
