package device_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/device"
)

func gpu(id string, index int, model string) device.Device {
	return device.Device{ID: id, Index: index, Kind: device.GPU, Model: model, MemoryMiB: 16384, Health: device.Healthy, NUMANode: device.NoNUMA}
}

func TestDeviceValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*device.Device)
		wantErr string
	}{
		{name: "valid", mutate: func(*device.Device) {}},
		{name: "valid unhealthy NPU", mutate: func(d *device.Device) { d.Kind, d.Health = device.NPU, device.Unhealthy }},
		{name: "empty id", mutate: func(d *device.Device) { d.ID = "" }, wantErr: "device 2: empty id"},
		{name: "negative index", mutate: func(d *device.Device) { d.Index = -3 }, wantErr: `device "g": negative index -3`},
		{name: "unknown kind", mutate: func(d *device.Device) { d.Kind = "GPU" }, wantErr: `device "g": unknown kind "GPU" (want "gpu" or "npu")`},
		{name: "empty model", mutate: func(d *device.Device) { d.Model = "" }, wantErr: `device "g": empty model`},
		{name: "model with a space", mutate: func(d *device.Device) { d.Model = "Tesla T4" },
			wantErr: `device "g": model "Tesla T4" is not a valid label value (1..63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit)`},
		{name: "model clashing with the mixed label", mutate: func(d *device.Device) { d.Model = "T4." },
			wantErr: `device "g": model "T4." is not a valid label value (1..63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit)`},
		{name: "negative memory", mutate: func(d *device.Device) { d.MemoryMiB = -1 }, wantErr: `device "g": negative memoryMiB -1`},
		{name: "unknown health", mutate: func(d *device.Device) { d.Health = "" }, wantErr: `device "g": unknown health "" (want "Healthy" or "Unhealthy")`},
		{name: "NUMA below -1", mutate: func(d *device.Device) { d.NUMANode = -2 }, wantErr: `device "g": numaNode -2 below -1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := gpu("g", 2, "T4")
			tt.mutate(&d)
			err := d.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestInventory(t *testing.T) {
	inv := device.Inventory{Devices: []device.Device{
		gpu("g2", 2, "V100M32"), gpu("g0", 0, "V100M16"), gpu("g1", 1, "V100M32"),
		{ID: "n0", Index: 3, Kind: device.NPU, Model: "Ascend910B", Health: device.Healthy, NUMANode: 0},
	}}
	require.NoError(t, inv.Validate())
	assert.Equal(t, 3, inv.Count(device.GPU))
	assert.Equal(t, 1, inv.Count(device.NPU))
	assert.Equal(t, []string{"V100M16", "V100M32"}, inv.Models(device.GPU))
	assert.Equal(t, []string{"Ascend910B"}, inv.Models(device.NPU))
	d, ok := inv.ByID("g1")
	require.True(t, ok)
	assert.Equal(t, 1, d.Index)
	_, ok = inv.ByID("g9")
	assert.False(t, ok)

	before := append([]device.Device(nil), inv.Devices...)
	sorted := inv.Sorted()
	if diff := cmp.Diff(before, inv.Devices); diff != "" {
		t.Errorf("Sorted changed its receiver (-want,+got):\n%s", diff)
	}
	var got []string
	for _, d := range sorted.Devices {
		got = append(got, d.ID)
	}
	assert.Equal(t, []string{"g0", "g1", "g2", "n0"}, got)

	dup := device.Inventory{Devices: []device.Device{gpu("g0", 0, "T4"), gpu("g0", 1, "T4")}}
	require.EqualError(t, dup.Validate(), `device "g0" listed twice`)
	dup = device.Inventory{Devices: []device.Device{gpu("g0", 0, "T4"), gpu("g1", 0, "T4")}}
	require.EqualError(t, dup.Validate(), "device index 0 listed twice")
}

func TestKind(t *testing.T) {
	assert.True(t, device.GPU.Valid())
	assert.True(t, device.NPU.Valid())
	assert.False(t, device.Kind("tpu").Valid())
	assert.Equal(t, []device.Kind{device.GPU, device.NPU}, device.Kinds)
}
