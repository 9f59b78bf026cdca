package engine

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/policy"
)

// TestDRAModeMatchesDevicePluginMode runs the inflation experiment on the
// small trace in device-plugin mode and in DRA mode (GantryDRA): for every
// policy, every pod must land on the same node and cards, and every sample
// (allocation, fragmentation) must be the same.
func TestDRAModeMatchesDevicePluginMode(t *testing.T) {
	ctx := context.Background()
	for _, pol := range []policy.Type{policy.FGD, policy.BestFit, policy.GPUPacking} {
		t.Run(string(pol), func(t *testing.T) {
			cfg := Config{Trace: smallTrace(), Policy: pol, Seed: 42}
			dp, err := RunInflation(ctx, cfg)
			require.NoError(t, err)
			cfg.Mode = DRA
			dra, err := RunInflation(ctx, cfg)
			require.NoError(t, err)
			require.Equal(t, DRA, dra.Mode)
			require.Equal(t, DevicePlugin, dp.Mode)
			require.NotZero(t, dp.Failed, "the small trace is inflated past what fits")
			if d := cmp.Diff(dp, dra, cmpopts.IgnoreFields(InflationResult{}, "Wall", "Mode")); d != "" {
				t.Errorf("DRA mode differs from device-plugin mode (-device-plugin,+dra):\n%s", d)
			}
		})
	}
}
