package contract_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
)

func twoContainers() contract.Allocation {
	return contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
		{Container: "train", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "g0", Index: 0, Units: 100}, {ID: "g1", Index: 1, Units: 100}}},
		{Container: "sidecar", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "g0", Index: 0, Units: 0}}},
	}}
}

func TestAllocationRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		alloc contract.Allocation
	}{
		{name: "no device", alloc: contract.Allocation{Node: "n1"}},
		{name: "one share", alloc: contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
			{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "g3", Index: 3, Units: 25}}},
		}}},
		{name: "whole GPUs and an NPU share in two containers", alloc: contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
			{Container: "train", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "g0", Index: 0, Units: 100}, {ID: "g1", Index: 1, Units: 100}}},
			{Container: "infer", Kind: device.NPU, Devices: []contract.DeviceShare{{ID: "n0", Index: 2, Units: 40}}},
			{Container: "train", Kind: device.NPU, Devices: []contract.DeviceShare{{ID: "n0", Index: 2, Units: 60}}},
		}}},
		{name: "device of unknown index", alloc: contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
			{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "gone", Index: contract.UnknownIndex, Units: 100}, {ID: "g1", Index: 1, Units: 50}}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := contract.EncodeAllocation(tt.alloc)
			require.NoError(t, err)
			got, err := contract.DecodeAllocation(v)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.alloc, got); diff != "" {
				t.Errorf("round trip (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestAllocationValidate(t *testing.T) {
	share := func(id string, index, units int) contract.DeviceShare {
		return contract.DeviceShare{ID: id, Index: index, Units: units}
	}
	one := func(c contract.ContainerAllocation) contract.Allocation {
		return contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{c}}
	}
	tests := []struct {
		name    string
		alloc   contract.Allocation
		wantErr string
	}{
		{name: "empty node", alloc: contract.Allocation{}, wantErr: "empty node"},
		{name: "empty container name", alloc: one(contract.ContainerAllocation{Kind: device.GPU, Devices: []contract.DeviceShare{share("g0", 0, 10)}}),
			wantErr: "containers[0]: empty container name"},
		{name: "unknown kind", alloc: one(contract.ContainerAllocation{Container: "main", Kind: "tpu", Devices: []contract.DeviceShare{share("g0", 0, 10)}}),
			wantErr: `containers[0]: unknown kind "tpu"`},
		{name: "container and kind twice", alloc: contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
			{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{share("g0", 0, 10)}},
			{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{share("g1", 1, 10)}},
		}}, wantErr: `containers[1]: container "main" listed twice for kind "gpu"`},
		{name: "no devices", alloc: one(contract.ContainerAllocation{Container: "main", Kind: device.GPU}),
			wantErr: "containers[0]: no devices"},
		{name: "empty device id", alloc: one(contract.ContainerAllocation{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{share("", 0, 10)}}),
			wantErr: "containers[0].devices[0]: empty id"},
		{name: "device twice in a container", alloc: one(contract.ContainerAllocation{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{share("g0", 0, 60), share("g0", 0, 60)}}),
			wantErr: `containers[0].devices[1]: device "g0" listed twice`},
		{name: "negative index", alloc: one(contract.ContainerAllocation{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{share("g0", -2, 10)}}),
			wantErr: "containers[0].devices[0]: negative index -2"},
		{name: "zero units", alloc: twoContainers(), wantErr: "containers[1].devices[0]: units 0 outside 1..100"},
		{name: "over 100 units", alloc: one(contract.ContainerAllocation{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{share("g0", 0, 101)}}),
			wantErr: "containers[0].devices[0]: units 101 outside 1..100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.EqualError(t, tt.alloc.Validate(), tt.wantErr)
			_, err := contract.EncodeAllocation(tt.alloc)
			require.EqualError(t, err, "invalid allocation: "+tt.wantErr)
		})
	}
}

func TestDecodeAllocationErrors(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		wantErr string
	}{
		{name: "not JSON", value: "g0=30", wantErr: "not valid JSON: invalid character 'g' looking for beginning of value"},
		{name: "trailing data", value: `{"v":"v1","node":"n1","containers":[]}}`, wantErr: "trailing data after the JSON object"},
		{name: "wrong version", value: `{"v":"v0","node":"n1","containers":[]}`, wantErr: `version "v0" is not supported (want "v1")`},
		{name: "unknown field", value: `{"v":"v1","node":"n1","containers":[],"uid":"x"}`, wantErr: `not valid JSON: json: unknown field "uid"`},
		{name: "invalid content", value: `{"v":"v1","node":"","containers":[]}`, wantErr: "empty node"},
		{name: "units out of range", value: `{"v":"v1","node":"n1","containers":[{"container":"main","kind":"gpu","devices":[{"id":"g0","index":0,"units":200}]}]}`,
			wantErr: "containers[0].devices[0]: units 200 outside 1..100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := contract.DecodeAllocation(tt.value)
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestAllocationUnitsAndContainer(t *testing.T) {
	a := twoContainers()
	a.Containers[1].Devices[0].Units = 30
	if diff := cmp.Diff(map[string]int{"g0": 130, "g1": 100}, a.Units()); diff != "" {
		t.Errorf("units (-want,+got):\n%s", diff)
	}
	c, ok := a.Container("sidecar", device.GPU)
	require.True(t, ok)
	assert.Equal(t, "g0", c.Devices[0].ID)
	_, ok = a.Container("sidecar", device.NPU)
	assert.False(t, ok)
}

func TestAllocationOf(t *testing.T) {
	enc := func(a contract.Allocation) string {
		v, err := contract.EncodeAllocation(a)
		require.NoError(t, err)
		return v
	}
	intent := contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
		{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "g0", Index: 0, Units: 30}}},
	}}
	actual := contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
		{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "g1", Index: 1, Units: 30}}},
	}}
	tests := []struct {
		name    string
		pod     *coretest.PodWrapper
		want    contract.Allocation
		wantSrc contract.Source
		wantOK  bool
		wantErr string
	}{
		{name: "neither", pod: coretest.MakePod("p")},
		{name: "scheduler's intent only", pod: coretest.MakePod("p").Annotation(contract.AnnotationAllocation, enc(intent)),
			want: intent, wantSrc: contract.FromScheduler, wantOK: true},
		{name: "node agent's record only", pod: coretest.MakePod("p").Annotation(contract.AnnotationAllocated, enc(actual)),
			want: actual, wantSrc: contract.FromNode, wantOK: true},
		{name: "node agent's record wins", pod: coretest.MakePod("p").Annotation(contract.AnnotationAllocation, enc(intent)).Annotation(contract.AnnotationAllocated, enc(actual)),
			want: actual, wantSrc: contract.FromNode, wantOK: true},
		{name: "malformed record is reported and the intent counts", pod: coretest.MakePod("p").Annotation(contract.AnnotationAllocation, enc(intent)).Annotation(contract.AnnotationAllocated, "{"),
			want: intent, wantSrc: contract.FromScheduler, wantOK: true, wantErr: "pod default/p: invalid gantry.dev/allocated annotation: not valid JSON: unexpected EOF"},
		{name: "malformed record and no intent", pod: coretest.MakePod("p").Annotation(contract.AnnotationAllocated, "{"),
			wantErr: "pod default/p: invalid gantry.dev/allocated annotation: not valid JSON: unexpected EOF"},
		{name: "malformed intent", pod: coretest.MakePod("p").Annotation(contract.AnnotationAllocation, `{"v":"v9"}`),
			wantErr: `pod default/p: invalid gantry.dev/allocation annotation: version "v9" is not supported (want "v1")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, src, ok, err := contract.AllocationOf(tt.pod.Obj())
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantSrc, src)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("allocation (-want,+got):\n%s", diff)
			}
		})
	}
}
