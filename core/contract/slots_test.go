package contract_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

func TestSlotIDRoundTrip(t *testing.T) {
	for _, dev := range []string{"GPU-8f2c", "odd::id", "x"} {
		for i := 0; i < device.UnitsPerDevice; i++ {
			id := contract.SlotID(dev, i)
			gotDev, gotSlot, err := contract.ParseSlotID(id)
			require.NoError(t, err, id)
			require.Equal(t, dev, gotDev, id)
			require.Equal(t, i, gotSlot, id)
		}
	}
}

func TestParseSlotIDErrors(t *testing.T) {
	tests := []struct {
		name, id, wantErr string
	}{
		{name: "no separator", id: "GPU-1", wantErr: `slot id "GPU-1": missing "::" separator`},
		{name: "empty device", id: "::5", wantErr: `slot id "::5": empty device id`},
		{name: "empty slot", id: "GPU-1::", wantErr: `slot id "GPU-1::": slot index must be 0..99`},
		{name: "not a number", id: "GPU-1::x", wantErr: `slot id "GPU-1::x": slot index must be 0..99`},
		{name: "negative", id: "GPU-1::-1", wantErr: `slot id "GPU-1::-1": slot index must be 0..99`},
		{name: "out of range", id: "GPU-1::100", wantErr: `slot id "GPU-1::100": slot index must be 0..99`},
		{name: "leading zero", id: "GPU-1::07", wantErr: `slot id "GPU-1::07": slot index must be 0..99`},
		{name: "plus sign", id: "GPU-1::+7", wantErr: `slot id "GPU-1::+7": slot index must be 0..99`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := contract.ParseSlotID(tt.id)
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestGroupSlots(t *testing.T) {
	tests := []struct {
		name        string
		ids         []string
		wantDevices []string
		wantUnits   map[string]int
		wantErr     string
	}{
		{name: "none", ids: nil, wantUnits: map[string]int{}},
		{name: "two devices in first-seen order", ids: []string{"b::0", "a::3", "b::1", "a::4", "b::99"},
			wantDevices: []string{"b", "a"}, wantUnits: map[string]int{"a": 2, "b": 3}},
		{name: "repeated", ids: []string{"a::1", "a::2", "a::1"}, wantErr: `slot id "a::1" repeated`},
		{name: "malformed", ids: []string{"a::1", "a-2"}, wantErr: `slot id "a-2": missing "::" separator`},
		{name: "out of range", ids: []string{"a::100"}, wantErr: `slot id "a::100": slot index must be 0..99`},
		{name: "same slot spelled twice", ids: []string{"a::7", "a::07"}, wantErr: `slot id "a::07": slot index must be 0..99`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devices, units, err := contract.GroupSlots(tt.ids)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				assert.Nil(t, devices)
				assert.Nil(t, units)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.wantDevices, devices); diff != "" {
				t.Errorf("devices (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUnits, units); diff != "" {
				t.Errorf("units (-want,+got):\n%s", diff)
			}
		})
	}
}
