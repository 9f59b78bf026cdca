package state_test

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/state"
)

func snapshot(n *state.NodeState) coretest.StateView { return coretest.View(n) }

func TestNew(t *testing.T) {
	inv := coretest.MakeNode("n1").GPUs("T4", 3, 15360).Inventory()
	inv.Devices[0], inv.Devices[2] = inv.Devices[2], inv.Devices[0]
	n := state.New("n1", "zone-a", inv)
	assert.Equal(t, "gpu-n1-2", inv.Devices[0].ID, "New must not reorder the caller's inventory")
	var ids []string
	for _, d := range n.Devices {
		ids = append(ids, d.ID)
	}
	assert.Equal(t, []string{"gpu-n1-0", "gpu-n1-1", "gpu-n1-2"}, ids)
	assert.Equal(t, int64(state.Unlimited), n.CPUFreeMilli)
	assert.Equal(t, 300, n.Capacity(device.GPU))
	assert.Equal(t, 300, n.Free(device.GPU))
	assert.Equal(t, 0, n.Capacity(device.NPU))
	assert.NotEqual(t, state.New("n1", "zone-a", inv).Generation, n.Generation, "generations are unique across states")
}

func TestAssignRelease(t *testing.T) {
	n := coretest.MakeNode("n1").GPUs("A100", 2, 81920).NPUs("Ascend910B", 1, 65536).State().WithHost(32000, 32000, 262144)
	g0, g1, n0 := n.Devices[0].ID, n.Devices[1].ID, n.Devices[2].ID
	empty := snapshot(n)

	gen := n.Generation
	a := state.Holding{
		Allocation: contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
			{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: g0, Index: 0, Units: 30}}},
			{Container: "side", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: g0, Index: 0, Units: 20}, {ID: g1, Index: 1, Units: 10}}},
			{Container: "side", Kind: device.NPU, Devices: []contract.DeviceShare{{ID: n0, Index: 2, Units: 5}}},
		}},
		Workload: "default/web", CPUMilli: 4000, MemoryMiB: 8192,
	}
	require.NoError(t, n.Assign("default/a", a))
	assert.Greater(t, n.Generation, gen)
	gen = n.Generation
	require.NoError(t, n.Assign("default/b", state.Holding{Allocation: coretest.Allocation(n, 90, 1)}))
	require.Error(t, n.Assign("default/c", state.Holding{Allocation: coretest.Allocation(n, 1, 1)}))
	require.NoError(t, n.Assign("default/cpu", state.Holding{CPUMilli: 1000}), "a pod holding no device is recorded for its host resources")
	assert.Greater(t, n.Generation, gen)

	type dev struct {
		Used, Holders int
		Web           bool
	}
	var got []dev
	for i := range n.Devices {
		got = append(got, dev{n.Devices[i].Used, n.Devices[i].Holders, n.Devices[i].HoldsWorkload("default/web")})
	}
	// a holds 30+20 of g0 and 10 of g1 (one holder each, two containers on
	// g0), b 90 of g1, and 5 of the NPU; c's 1% of the full g1 was refused.
	if diff := cmp.Diff([]dev{{50, 1, true}, {100, 2, true}, {5, 1, true}}, got); diff != "" {
		t.Errorf("devices (-want,+got):\n%s", diff)
	}
	assert.Equal(t, int64(27000), n.CPUFreeMilli)
	assert.Equal(t, int64(262144-8192), n.MemoryFreeMiB)
	assert.Equal(t, 3, n.Pods())
	keys := n.PodKeys()
	sort.Strings(keys)
	assert.Equal(t, []string{"default/a", "default/b", "default/cpu"}, keys)
	h, ok := n.Holding("default/a")
	require.True(t, ok)
	if diff := cmp.Diff(a, h); diff != "" {
		t.Errorf("holding (-want,+got):\n%s", diff)
	}
	assert.Equal(t, 150, n.Used(device.GPU))
	assert.Equal(t, 50, n.Free(device.GPU))
	assert.False(t, n.Devices[1].HoldsWorkload(""), "the empty workload is nobody's")

	assert.False(t, n.Release("default/none"))
	gen = n.Generation
	require.True(t, n.Release("default/b"))
	require.True(t, n.Release("default/a"))
	require.True(t, n.Release("default/cpu"))
	assert.Greater(t, n.Generation, gen)
	if diff := cmp.Diff(empty, snapshot(n)); diff != "" {
		t.Errorf("after releasing everything (-want,+got):\n%s", diff)
	}
}

func TestAssignErrors(t *testing.T) {
	base := func() *state.NodeState {
		n := coretest.MakeNode("n1").GPUs("T4", 2, 15360).NPUs("Ascend910B", 1, 65536).State()
		return coretest.Hold(n, "default/held", 70, 0)
	}
	g0 := "gpu-n1-0"
	one := func(kind device.Kind, id string, units int) state.Holding {
		return state.Holding{Allocation: contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
			{Container: "main", Kind: kind, Devices: []contract.DeviceShare{{ID: id, Units: units}}},
		}}}
	}
	tests := []struct {
		name    string
		pod     string
		holding state.Holding
		wantErr string
	}{
		{name: "already holds", pod: "default/held", holding: one(device.GPU, "gpu-n1-1", 10),
			wantErr: `node "n1": pod default/held already holds devices`},
		{name: "unknown device", pod: "default/p", holding: one(device.GPU, "gpu-n9-0", 10),
			wantErr: `node "n1": pod default/p holds unknown device "gpu-n9-0"`},
		{name: "device of another kind", pod: "default/p", holding: one(device.NPU, g0, 10),
			wantErr: `node "n1": pod default/p holds device "gpu-n1-0" as npu, but it is a gpu`},
		{name: "another node's allocation", pod: "default/p", holding: state.Holding{Allocation: contract.Allocation{Node: "n2"}},
			wantErr: `node "n1": pod default/p holds an allocation on node "n2"`},
		{name: "negative units", pod: "default/p", holding: one(device.GPU, g0, -30),
			wantErr: `node "n1": pod default/p holds an invalid allocation: containers[0].devices[0]: units -30 outside 1..100`},
		{name: "device twice in a container", pod: "default/p", holding: state.Holding{Allocation: contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
			{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: "gpu-n1-1", Units: 60}, {ID: "gpu-n1-1", Units: 60}}},
		}}}, wantErr: `node "n1": pod default/p holds an invalid allocation: containers[0].devices[1]: device "gpu-n1-1" listed twice`},
		{name: "overcommit", pod: "default/p", holding: one(device.GPU, g0, 31),
			wantErr: `node "n1": pod default/p asks 31% of device "gpu-n1-0" which has 70% in use`},
		{name: "overcommit across containers", pod: "default/p", holding: state.Holding{Allocation: contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{
			{Container: "a", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: g0, Units: 20}}},
			{Container: "b", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: g0, Units: 20}}},
		}}}, wantErr: `node "n1": pod default/p asks 40% of device "gpu-n1-0" which has 70% in use`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := base()
			before, gen := snapshot(n), n.Generation
			err := n.Assign(tt.pod, tt.holding)
			require.EqualError(t, err, tt.wantErr)
			if diff := cmp.Diff(before, snapshot(n)); diff != "" {
				t.Errorf("a failed Assign changed the node (-want,+got):\n%s", diff)
			}
			assert.Equal(t, gen, n.Generation)
		})
	}
}

func TestOvercommitError(t *testing.T) {
	n := coretest.Hold(coretest.MakeNode("n1").GPUs("T4", 1, 15360).State(), "default/a", 70, 0)
	err := n.Assign("default/b", state.Holding{Allocation: coretest.Allocation(n, 40, 0)})
	var oc *state.OvercommitError
	require.ErrorAs(t, err, &oc)
	if diff := cmp.Diff(&state.OvercommitError{Node: "n1", Pod: "default/b", Device: "gpu-n1-0", Used: 70, Asked: 40}, oc); diff != "" {
		t.Errorf("error (-want,+got):\n%s", diff)
	}
}

func TestUnhealthyDevice(t *testing.T) {
	n := coretest.Hold(coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), "default/a", 30, 0)
	gen := n.Generation
	require.True(t, n.SetHealth("gpu-n1-0", device.Unhealthy))
	assert.Greater(t, n.Generation, gen)
	assert.False(t, n.SetHealth("gpu-n1-9", device.Unhealthy))
	assert.False(t, n.SetHealth("gpu-n1-1", "Sick"))
	assert.True(t, n.Devices[1].Healthy())

	assert.Equal(t, 0, n.Devices[0].Free())
	assert.Equal(t, 30, n.Devices[0].Used, "holdings stay")
	assert.Equal(t, []int{0, 100}, n.FreeVector())
	assert.Equal(t, 100, n.Capacity(device.GPU))
	assert.Equal(t, 100, n.Free(device.GPU))
	assert.Equal(t, 30, n.Used(device.GPU))

	require.True(t, n.Release("default/a"), "pods on a failed device can still leave")
	assert.Equal(t, 0, n.Devices[0].Used)
	require.True(t, n.SetHealth("gpu-n1-0", device.Healthy))
	assert.Equal(t, 100, n.Devices[0].Free())
}

func TestCloneIsIndependent(t *testing.T) {
	orig := coretest.MakeNode("n1").GPUs("T4", 2, 15360).State().WithHost(8000, 8000, 16384)
	require.NoError(t, orig.Assign("default/w1", state.Holding{Allocation: coretest.Allocation(orig, 30, 0), Workload: "default/web", CPUMilli: 1000}))
	before := snapshot(orig)
	gen := orig.Generation

	c := orig.Clone()
	if diff := cmp.Diff(before, snapshot(c)); diff != "" {
		t.Fatalf("clone differs (-want,+got):\n%s", diff)
	}
	assert.Equal(t, orig.Generation, c.Generation, "a clone has its original's content")

	require.NoError(t, c.Assign("default/w2", state.Holding{Allocation: coretest.Allocation(c, 30, 0), Workload: "default/web", CPUMilli: 1000}))
	require.NoError(t, c.Assign("default/x", state.Holding{Allocation: coretest.Allocation(c, 50, 1), Workload: "default/other"}))
	require.True(t, c.Release("default/w1"))
	require.True(t, c.Release("default/w2"))
	c.SetHealth("gpu-n1-1", device.Unhealthy)
	c.Devices[0].Model = "changed"
	c.Name = "n2"

	if diff := cmp.Diff(before, snapshot(orig)); diff != "" {
		t.Errorf("mutating the clone changed the original (-want,+got):\n%s", diff)
	}
	assert.Equal(t, gen, orig.Generation)
	assert.True(t, orig.Devices[0].HoldsWorkload("default/web"))
	assert.False(t, c.Devices[0].HoldsWorkload("default/web"))
	assert.NotEqual(t, orig.Generation, c.Generation)

	// And the other way round.
	c2 := orig.Clone()
	require.True(t, orig.Release("default/w1"))
	assert.Equal(t, 30, c2.Devices[0].Used)
	assert.True(t, c2.Devices[0].HoldsWorkload("default/web"))
	_, ok := c2.Holding("default/w1")
	assert.True(t, ok)
}

func TestCloneAfterReleaseSharesNoWorkloads(t *testing.T) {
	// Regression: Release left an empty (non-nil) workload map that Clone
	// shared, so the clone's next replica showed up in the original.
	orig := coretest.HoldAs(coretest.MakeNode("n1").GPUs("T4", 1, 15360).State(), "default/w1", "default/web", 30, 0)
	require.True(t, orig.Release("default/w1"))
	c := orig.Clone()
	coretest.HoldAs(c, "default/w2", "default/web", 30, 0)
	assert.True(t, c.Devices[0].HoldsWorkload("default/web"))
	assert.False(t, orig.Devices[0].HoldsWorkload("default/web"), "the clone's replica leaked into the original")
}
