package dra_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	resourceapi "k8s.io/api/resource/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/dra/dratest"
)

// view is what a test compares of a node: the units used per device name,
// and the devices that take no new shares.
type view struct {
	Used      map[string]int
	Unhealthy []string
	Holders   int
}

func viewOf(n *dra.Node) view {
	v := view{Used: map[string]int{}, Holders: n.State.Pods()}
	for i, d := range n.State.Devices {
		v.Used[n.DeviceName(i)] = d.Used
		if !d.Healthy() {
			v.Unhealthy = append(v.Unhealthy, n.DeviceName(i))
		}
	}
	return v
}

func TestBuild(t *testing.T) {
	noUUID := contract.DRADevice(device.Device{ID: "x", Index: 5, Kind: device.GPU, Model: "A100", Health: device.Healthy})
	delete(noUUID.Attributes, contract.DRAAttrUUID)
	noUUID.Name = "gpu-5"
	sick := device.Device{ID: "sick", Index: 1, Kind: device.GPU, Model: "A100", MemoryMiB: 1024, Health: device.Unhealthy, NUMANode: 0}
	other := dratest.MakeSlice("n1").Name("other").GPUs("A100", 2, 1024).Obj()
	other.Spec.Driver = "other.example.com"

	tests := []struct {
		name     string
		slices   []*resourceapi.ResourceSlice
		claims   []*resourceapi.ResourceClaim
		want     map[string]view
		problems []string
	}{
		{
			name:   "empty node",
			slices: []*resourceapi.ResourceSlice{dratest.MakeSlice("n1").GPUs("A100", 2, 80<<10).Obj()},
			want:   map[string]view{"n1": {Used: map[string]int{"gpu-0": 0, "gpu-1": 0}}},
		},
		{
			name:   "shares of several claims add up per card; other drivers are ignored",
			slices: []*resourceapi.ResourceSlice{dratest.MakeSlice("n1").GPUs("A100", 2, 80<<10).Obj(), other},
			claims: []*resourceapi.ResourceClaim{
				dratest.MakeClaim("ns", "a").Share("r", "gpu.gantry.dev", 30).Gantry("n1", "r", "gpu-0", 30).Obj(),
				dratest.MakeClaim("ns", "b").Share("r", "gpu.gantry.dev", 50).Gantry("n1", "r", "gpu-0", 50).
					Allocated("other.example.com", "n1", "o", "gpu-0", 0).Obj(),
				dratest.MakeClaim("ns", "c").Share("r", "gpu.gantry.dev", 0).Gantry("n1", "r", "gpu-1", 0).Obj(),
				dratest.MakeClaim("ns", "pending").Share("r", "gpu.gantry.dev", 10).Obj(),
			},
			want: map[string]view{"n1": {Used: map[string]int{"gpu-0": 80, "gpu-1": 100}, Holders: 3}},
		},
		{
			name:   "one claim, two requests on one card",
			slices: []*resourceapi.ResourceSlice{dratest.MakeSlice("n1").GPUs("A100", 1, 80<<10).Obj()},
			claims: []*resourceapi.ResourceClaim{
				dratest.MakeClaim("ns", "a").Gantry("n1", "r1", "gpu-0", 20).Gantry("n1", "r2", "gpu-0", 25).Obj(),
			},
			want: map[string]view{"n1": {Used: map[string]int{"gpu-0": 45}, Holders: 1}},
		},
		{
			name: "only the newest generation of a pool counts",
			slices: []*resourceapi.ResourceSlice{
				dratest.MakeSlice("n1").Name("old").GPUs("A100", 4, 1024).Obj(),
				dratest.MakeSlice("n1").Name("new").Generation(2).GPUs("A100", 2, 1024).Obj(),
			},
			want: map[string]view{"n1": {Used: map[string]int{"gpu-0": 0, "gpu-1": 0}}},
		},
		{
			name: "a pool split over two slices is one node",
			slices: func() []*resourceapi.ResourceSlice {
				a := dratest.MakeSlice("n1").Name("a").GPUs("A100", 1, 1024).Obj()
				b := dratest.MakeSlice("n1").Name("b").Device(device.Device{ID: "g1", Index: 1, Kind: device.GPU, Model: "A100", Health: device.Healthy}).Obj()
				a.Spec.Pool.ResourceSliceCount, b.Spec.Pool.ResourceSliceCount = 2, 2
				return []*resourceapi.ResourceSlice{b, a}
			}(),
			want: map[string]view{"n1": {Used: map[string]int{"gpu-0": 0, "gpu-1": 0}}},
		},
		{
			name:   "a tainted card is unhealthy and keeps its shares",
			slices: []*resourceapi.ResourceSlice{dratest.MakeSlice("n1").GPUs("A100", 1, 1024).Device(sick).Obj()},
			claims: []*resourceapi.ResourceClaim{dratest.MakeClaim("ns", "a").Gantry("n1", "r", "gpu-1", 40).Obj()},
			want:   map[string]view{"n1": {Used: map[string]int{"gpu-0": 0, "gpu-1": 40}, Unhealthy: []string{"gpu-1"}, Holders: 1}},
		},
		{
			name:     "an unreadable device is left out and named",
			slices:   []*resourceapi.ResourceSlice{dratest.MakeSlice("n1").GPUs("A100", 1, 1024).Raw(noUUID).Obj()},
			want:     map[string]view{"n1": {Used: map[string]int{"gpu-0": 0}}},
			problems: []string{`ResourceSlice n1-gpu.gantry.dev: DRA device "gpu-5" of driver gpu.gantry.dev: no string attribute "uuid"`},
		},
		{
			name:   "claims on unknown devices or pools, or over 100 percent, grant nothing",
			slices: []*resourceapi.ResourceSlice{dratest.MakeSlice("n1").GPUs("A100", 1, 1024).Obj()},
			claims: []*resourceapi.ResourceClaim{
				dratest.MakeClaim("ns", "a").Gantry("n1", "r", "gpu-0", 60).Obj(),
				dratest.MakeClaim("ns", "b").Gantry("n1", "r", "gpu-0", 60).Obj(),
				dratest.MakeClaim("ns", "c").Gantry("n1", "r", "gpu-9", 10).Obj(),
				dratest.MakeClaim("ns", "d").Gantry("n2", "r", "gpu-0", 10).Obj(),
				dratest.MakeClaim("ns", "e").Gantry("n1", "r", "gpu-0", 101).Obj(),
			},
			want: map[string]view{"n1": {Used: map[string]int{"gpu-0": 60}, Holders: 1}},
			problems: []string{
				`ResourceClaim ns/b: node "n1": pod claim:ns/b asks 60% of device "gpu-n1-0" which has 60% in use`,
				`ResourceClaim ns/c: request "r" holds device "gpu-9" that pool "n1" does not publish`,
				`ResourceClaim ns/d: request "r" holds device "gpu-0" of unknown pool "n2"`,
				`ResourceClaim ns/e: request "r" holds 101 of capacity "percent" on device "gpu-0", outside 1..100`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dra.Build(tc.slices, tc.claims)
			got := map[string]view{}
			for name, n := range c.Nodes {
				got[name] = viewOf(n)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
			var problems []string
			for _, p := range c.Problems {
				problems = append(problems, p.Error())
			}
			if diff := cmp.Diff(tc.problems, problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildMatchesInventory(t *testing.T) {
	// A card read back from its slice is the card the agent published.
	d := device.Device{ID: "GPU-1234", Index: 3, Kind: device.NPU, Vendor: "huawei", Model: "Ascend910B", MemoryMiB: 64 << 10, Health: device.Healthy, NUMANode: 1, LinkGroup: "hccs-0", Isolation: device.IsolationMPS}
	mig := device.Device{ID: "MIG-1", Index: 4, Kind: device.GPU, Vendor: "nvidia", Model: "A100-1g.10gb", MemoryMiB: 10 << 10, Health: device.Healthy, NUMANode: 0,
		Isolation: device.IsolationMIG, MIG: &device.MIG{Parent: "GPU-9", Profile: "1g.10gb"}}
	c := dra.Build([]*resourceapi.ResourceSlice{dratest.MakeSlice("n1").Device(d).Device(mig).Obj()}, nil)
	require.Empty(t, c.Problems)
	n := c.Nodes["n1"]
	require.Len(t, n.State.Devices, 2)
	for i, want := range []device.Device{d, mig} {
		if diff := cmp.Diff(want, n.State.Devices[i].Device); diff != "" {
			t.Errorf("device (-published +read):\n%s", diff)
		}
	}
	require.Equal(t, "npu-3", n.DeviceName(0))
	require.Equal(t, 0, n.DeviceIndex("npu-3"))
	require.Equal(t, -1, n.DeviceIndex("npu-0"))
}

func TestDeviceFromDRAErrors(t *testing.T) {
	base := func() resourceapi.Device {
		return contract.DRADevice(device.Device{ID: "u", Index: 0, Kind: device.GPU, Model: "A100", Health: device.Healthy})
	}
	tests := []struct {
		name   string
		edit   func(*resourceapi.Device)
		reason string
	}{
		{"exclusive device", func(d *resourceapi.Device) { d.AllowMultipleAllocations = nil }, "allowMultipleAllocations is not true, so it cannot hold shares"},
		{"no percent", func(d *resourceapi.Device) { delete(d.Capacity, contract.DRACapacityPercent) }, `no capacity "percent"`},
		{"percent not 100", func(d *resourceapi.Device) {
			c := d.Capacity[contract.DRACapacityPercent]
			c.Value.Set(200)
			d.Capacity[contract.DRACapacityPercent] = c
		}, `capacity "percent" is 200, want 100`},
		{"unknown kind", func(d *resourceapi.Device) {
			k := "tpu"
			d.Attributes[contract.DRAAttrKind] = resourceapi.DeviceAttribute{StringValue: &k}
		}, `device "u": unknown kind "tpu" (want "gpu" or "npu")`},
		{"no index", func(d *resourceapi.Device) { delete(d.Attributes, contract.DRAAttrIndex) }, `no int attribute "index"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := base()
			tc.edit(&d)
			_, err := contract.DeviceFromDRA(d)
			var ide *contract.InvalidDRADeviceError
			require.True(t, errors.As(err, &ide), "got %v", err)
			require.Equal(t, tc.reason, ide.Reason)
		})
	}
}

func TestQualifiedAttributesAreRead(t *testing.T) {
	d := contract.DRADevice(device.Device{ID: "u", Index: 0, Kind: device.GPU, Model: "A100", Health: device.Healthy})
	m := d.Attributes[contract.DRAAttrModel]
	delete(d.Attributes, contract.DRAAttrModel)
	d.Attributes[contract.DRADriver+"/model"] = m
	got, err := contract.DeviceFromDRA(d)
	require.NoError(t, err)
	require.Equal(t, "A100", got.Model)
}
