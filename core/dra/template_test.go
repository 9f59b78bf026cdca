package dra_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	resourceapi "k8s.io/api/resource/v1"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/dra/dratest"
)

func TestTemplateSliceReadsBackAsTheInventory(t *testing.T) {
	inv := device.Inventory{Devices: []device.Device{
		{ID: "b", Index: 1, Kind: device.GPU, Model: "T4", MemoryMiB: 16 << 10, Health: device.Healthy, NUMANode: 0},
		{ID: "a", Index: 0, Kind: device.GPU, Model: "T4", MemoryMiB: 16 << 10, Health: device.Healthy, NUMANode: 0},
	}}
	c := dra.Build([]*resourceapi.ResourceSlice{dra.TemplateSlice("tmpl", inv)}, nil)
	require.Empty(t, c.Problems)
	var got []device.Device
	for _, d := range c.Nodes["tmpl"].State.Devices {
		got = append(got, d.Device)
	}
	if diff := cmp.Diff(inv.Sorted().Devices, got); diff != "" {
		t.Errorf("devices (-inventory +template):\n%s", diff)
	}
}

func TestUtilizationCountsConsumedCapacity(t *testing.T) {
	c := dra.Build([]*resourceapi.ResourceSlice{dratest.MakeSlice("n1").GPUs("A100", 2, 1024).Obj()}, []*resourceapi.ResourceClaim{
		dratest.MakeClaim("ns", "a").Gantry("n1", "r", "gpu-0", 10).Obj(),
	})
	require.InDelta(t, 0.05, dra.Utilization(c.Nodes["n1"], device.GPU), 1e-9)
	require.Zero(t, dra.Utilization(c.Nodes["n1"], device.NPU))
}
