package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// A pod without devices is scored by what its CPU does to the node's
// fragmentation (fgd-anchor §3: "CPU-only task: only c_n changes").
func TestFGDScoresCPUOnlyPodsByFragmentation(t *testing.T) {
	w := Workload{{CPUMilli: 8000, Count: 1, Units: 100, Weight: 1}}
	inv := device.Inventory{Devices: []device.Device{{ID: "g0", Kind: device.GPU, Model: "T4", Health: device.Healthy, NUMANode: device.NoNUMA}}}
	// Both nodes have one free GPU. Taking 4 cores on "tight" leaves 4,
	// too few for the 8-core GPU shape: its GPU becomes a fragment. "roomy"
	// keeps 28 cores.
	tight := state.New("tight", "", inv).WithHost(8000, 8000, state.Unlimited)
	roomy := state.New("roomy", "", inv).WithHost(32000, 32000, state.Unlimited)
	cpuOnly := &share.Request{CPUMilli: 4000}

	s, err := New(FGD, Options{Workload: w})
	require.NoError(t, err)
	alloc, a, ok := s.Score(tight, cpuOnly)
	require.True(t, ok)
	assert.Empty(t, alloc.Containers)
	_, b, ok := s.Score(roomy, cpuOnly)
	require.True(t, ok)
	// tight: Δ = +100 units (the whole GPU) -> floor(100·σ(-1)) = 26.
	assert.Equal(t, int64(26), a)
	// roomy: nothing changes, Δ = 0 -> 50.
	assert.Equal(t, int64(50), b)
}
