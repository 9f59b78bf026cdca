package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// A pod without devices: FGD scores every node alike, FGDPlus prefers the
// node where its CPU strands no GPU.
func TestFGDPlusPlacesCPUOnlyPodsByFragmentation(t *testing.T) {
	w := Workload{{CPUMilli: 8000, Count: 1, Units: 100, Weight: 1}}
	inv := device.Inventory{Devices: []device.Device{{ID: "g0", Kind: device.GPU, Model: "T4", Health: device.Healthy, NUMANode: device.NoNUMA}}}
	// Both nodes have one free GPU. Taking 4 cores on "tight" leaves 4,
	// too few for the 8-core GPU shape: its GPU becomes a fragment. "roomy"
	// keeps 28 cores.
	tight := state.New("tight", "", inv).WithHost(8000, 8000, state.Unlimited)
	roomy := state.New("roomy", "", inv).WithHost(32000, 32000, state.Unlimited)
	cpuOnly := &share.Request{CPUMilli: 4000}

	fgdS, err := New(FGD, Options{Workload: w})
	require.NoError(t, err)
	_, a, ok := fgdS.Score(tight, cpuOnly)
	require.True(t, ok)
	_, b, _ := fgdS.Score(roomy, cpuOnly)
	assert.Equal(t, a, b, "FGD gives a pod without devices the same score everywhere")
	assert.Equal(t, fgdScore(0), a)

	plus, err := New(FGDPlus, Options{Workload: w})
	require.NoError(t, err)
	_, a, _ = plus.Score(tight, cpuOnly)
	_, b, _ = plus.Score(roomy, cpuOnly)
	// tight: Δ = +100 units (the whole GPU) -> floor(100·σ(-1)) = 26.
	assert.Equal(t, int64(26), a)
	assert.Equal(t, fgdScore(0), b)

	// Device requests score the same under both.
	gpu := share.Simple(device.GPU, 1, 50)
	gpu.CPUMilli = 1000
	_, x, _ := fgdS.Score(roomy, gpu)
	_, y, _ := plus.Score(roomy, gpu)
	assert.Equal(t, x, y)
}

func TestFGDPlusNeedsWorkload(t *testing.T) {
	_, err := New(FGDPlus, Options{})
	assert.ErrorContains(t, err, "FGDPlus needs a workload distribution")
}
