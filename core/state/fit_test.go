package state_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// part is a container's ask of GPUs.
func part(container string, count, units int) share.Part {
	return share.Part{Container: container, Kind: device.GPU, Count: count, Units: units}
}

func request(parts ...share.Part) *share.Request {
	r := &share.Request{Pod: "default/p", Parts: parts}
	r.SortParts()
	return r
}

func TestFitReasons(t *testing.T) {
	web := func(r *share.Request) *share.Request { r.Workload = "default/web"; return r }
	models := func(r *share.Request, m ...string) *share.Request {
		r.Models = map[device.Kind][]string{device.GPU: m}
		return r
	}
	isolated := func(r *share.Request, l device.Isolation) *share.Request { r.Isolation = l; return r }
	tests := []struct {
		name    string
		node    *state.NodeState
		req     *share.Request
		want    state.Reason
		wantMsg string
	}{
		{name: "isolation mps required, node has none",
			node: coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), req: isolated(request(part("main", 1, 25)), device.IsolationMPS),
			want:    state.Reason{Code: state.IsolationMismatch, Kind: device.GPU, Container: "main", Asked: 1, Units: 25, Isolation: device.IsolationMPS, Unresolvable: true},
			wantMsg: `node has 0 GPU with isolation mps, container "main" asks for 1 (the pod requires gantry.dev/isolation: mps)`},
		{name: "isolation mps required, too few MPS cards",
			node: coretest.MakeNode("n1").GPUs("T4", 4, 15360).Isolation(2, device.IsolationMPS).State(), req: isolated(request(part("main", 2, 100)), device.IsolationMPS),
			want:    state.Reason{Code: state.IsolationMismatch, Kind: device.GPU, Container: "main", Asked: 2, Have: 1, Units: 100, Isolation: device.IsolationMPS, Unresolvable: true},
			wantMsg: `node has 1 GPU with isolation mps, container "main" asks for 2 (the pod requires gantry.dev/isolation: mps)`},
		{name: "MIG does not stand in for MPS",
			node: coretest.MakeNode("n1").GPUs("T4", 1, 15360).Isolation(0, device.IsolationMIG).State(), req: isolated(request(part("main", 1, 25)), device.IsolationMPS),
			want:    state.Reason{Code: state.IsolationMismatch, Kind: device.GPU, Container: "main", Asked: 1, Units: 25, Isolation: device.IsolationMPS, Unresolvable: true},
			wantMsg: `node has 0 GPU with isolation mps, container "main" asks for 1 (the pod requires gantry.dev/isolation: mps)`},
		{name: "CPU-only node",
			node: coretest.MakeNode("n1").State(), req: request(part("main", 1, 30)),
			want:    state.Reason{Code: state.NoDevices, Kind: device.GPU, Container: "main", Asked: 1, Units: 30, Unresolvable: true},
			wantMsg: "node has no GPU"},
		{name: "NPU node for a GPU request",
			node: coretest.MakeNode("n1").NPUs("Ascend910B", 4, 65536).State(), req: request(part("main", 2, 100)),
			want:    state.Reason{Code: state.NoDevices, Kind: device.GPU, Container: "main", Asked: 2, Units: 100, Unresolvable: true},
			wantMsg: "node has no GPU"},
		{name: "model mismatch",
			node: coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), req: models(request(part("main", 1, 50)), "V100M16", "V100M32"),
			want:    state.Reason{Code: state.ModelMismatch, Kind: device.GPU, Container: "main", Models: []string{"V100M16", "V100M32"}, Asked: 1, Units: 50, Unresolvable: true},
			wantMsg: "node has no GPU of model V100M16|V100M32"},
		{name: "too few devices",
			node: coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), req: request(part("main", 4, 100)),
			want:    state.Reason{Code: state.TooFewDevices, Kind: device.GPU, Container: "main", Asked: 4, Have: 2, Units: 100, Unresolvable: true},
			wantMsg: `node has 2 GPU, container "main" asks for 4`},
		{name: "too few devices of the allowed model, unhealthy counted",
			node:    coretest.MakeNode("n1").GPUs("V100M16", 2, 16384).GPUs("T4", 4, 15360).Unhealthy(1).State(),
			req:     models(request(part("main", 3, 100)), "V100M16", "V100M32"),
			want:    state.Reason{Code: state.TooFewDevices, Kind: device.GPU, Container: "main", Models: []string{"V100M16", "V100M32"}, Asked: 3, Have: 2, Units: 100, Unresolvable: true},
			wantMsg: `node has 2 GPU of model V100M16|V100M32, container "main" asks for 3`},
		{name: "no room for a share: Have is the most free",
			node:    coretest.Hold(coretest.Hold(coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), "default/a", 80, 0), "default/b", 50, 1),
			req:     request(part("main", 1, 60)),
			want:    state.Reason{Code: state.InsufficientShare, Kind: device.GPU, Container: "main", Asked: 1, Have: 50, Units: 60},
			wantMsg: "no GPU has 60% free (most free: 50%)"},
		{name: "no room for whole devices: Have is the whole-free count",
			node:    coretest.Hold(coretest.MakeNode("n1").GPUs("A100", 4, 81920).State(), "default/a", 10, 0, 1),
			req:     request(part("main", 3, 100)),
			want:    state.Reason{Code: state.InsufficientShare, Kind: device.GPU, Container: "main", Asked: 3, Have: 2, Units: 100},
			wantMsg: `2 of 3 whole GPU free, container "main" asks for 3`},
		{name: "unhealthy devices offer nothing, but may recover",
			node:    coretest.Hold(coretest.MakeNode("n1").GPUs("T4", 2, 15360).Unhealthy(0).State(), "default/a", 80, 1),
			req:     request(part("main", 1, 30)),
			want:    state.Reason{Code: state.InsufficientShare, Kind: device.GPU, Container: "main", Asked: 1, Have: 20, Units: 30},
			wantMsg: "no GPU has 30% free (most free: 20%)"},
		{name: "every unhealthy: whole device",
			node:    coretest.MakeNode("n1").GPUs("T4", 1, 15360).Unhealthy(0).State(),
			req:     request(part("main", 1, 100)),
			want:    state.Reason{Code: state.InsufficientShare, Kind: device.GPU, Container: "main", Asked: 1, Have: 0, Units: 100},
			wantMsg: `0 of 1 whole GPU free, container "main" asks for 1`},
		{name: "replica on every device with room",
			node:    coretest.Hold(coretest.HoldAs(coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), "default/w1", "default/web", 30, 0), "default/x", 100, 1),
			req:     web(request(part("main", 1, 30))),
			want:    state.Reason{Code: state.ReplicaOnDevice, Kind: device.GPU, Container: "main", Asked: 1, Have: 0, Units: 30},
			wantMsg: "every GPU with 30% free already holds a replica of the same workload"},
		{name: "two parts fit alone, not together on one GPU",
			node:    coretest.MakeNode("n1").GPUs("T4", 1, 15360).State(),
			req:     request(part("a", 1, 60), part("b", 1, 60)),
			want:    state.Reason{Code: state.TooFewDevices, Kind: device.GPU, Asked: 2, Have: 1, Unresolvable: true},
			wantMsg: "node has 1 GPU, the pod's containers need 2 together"},
		{name: "three parts need three GPUs",
			node:    coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(),
			req:     request(part("a", 1, 60), part("b", 1, 60), part("c", 1, 60)),
			want:    state.Reason{Code: state.TooFewDevices, Kind: device.GPU, Asked: 3, Have: 2, Unresolvable: true},
			wantMsg: "node has 2 GPU, the pod's containers need 3 together"},
		{name: "parts fit alone but not together in what is free",
			node:    coretest.Hold(coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), "default/x", 40, 0, 1),
			req:     request(part("a", 1, 50), part("b", 1, 50), part("c", 1, 20)),
			want:    state.Reason{Code: state.InsufficientShare, Kind: device.GPU, Asked: 120, Have: 120},
			wantMsg: "the free GPU cannot hold all of the pod's containers at once (120% asked in all, 120% free)"},
		{name: "a part that does not fit alone is the reason",
			node:    coretest.Hold(coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), "default/x", 50, 0, 1),
			req:     request(part("a", 1, 60), part("b", 1, 30)),
			want:    state.Reason{Code: state.InsufficientShare, Kind: device.GPU, Container: "a", Asked: 1, Have: 50, Units: 60},
			wantMsg: "no GPU has 60% free (most free: 50%)"},
		{name: "parts fit together only beside a replica",
			node:    coretest.HoldAs(coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), "default/w1", "default/web", 10, 0),
			req:     web(request(part("a", 1, 60), part("b", 1, 60))),
			want:    state.Reason{Code: state.ReplicaOnDevice, Kind: device.GPU, Asked: 120, Have: 100, Units: 60},
			wantMsg: "the pod's containers fit together only by sharing a GPU with a replica of the same workload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := state.Fit(tt.node, tt.req)
			require.False(t, ok)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reason (-want,+got):\n%s", diff)
			}
			assert.Equal(t, tt.wantMsg, got.Message())
		})
	}
}

func TestFitNPU(t *testing.T) {
	n := coretest.MakeNode("n1").GPUs("T4", 1, 15360).NPUs("Ascend910B", 2, 65536).State()
	req := &share.Request{Parts: []share.Part{{Container: "main", Kind: device.NPU, Count: 3, Units: 100}}}
	got, ok := state.Fit(n, req)
	require.False(t, ok)
	assert.Equal(t, `node has 2 NPU, container "main" asks for 3`, got.Message())
}

func TestPlace(t *testing.T) {
	dev := func(n *state.NodeState, i, units int) contract.DeviceShare {
		return contract.DeviceShare{ID: n.Devices[i].ID, Index: n.Devices[i].Index, Units: units}
	}
	ca := func(container string, devs ...contract.DeviceShare) contract.ContainerAllocation {
		return contract.ContainerAllocation{Container: container, Kind: device.GPU, Devices: devs}
	}
	twoFree := coretest.MakeNode("n1").GPUs("T4", 2, 15360).State()
	trap := coretest.Hold(coretest.MakeNode("n1").GPUs("T4", 2, 15360).State(), "default/x", 40, 1)
	replica := coretest.HoldAs(coretest.MakeNode("n1").GPUs("T4", 3, 15360).State(), "default/w1", "default/web", 10, 0)
	tests := []struct {
		name string
		node *state.NodeState
		req  *share.Request
		want []contract.ContainerAllocation
	}{
		{name: "no device", node: twoFree, req: &share.Request{CPUMilli: 1000}},
		{name: "nil request", node: twoFree, req: nil},
		{name: "two 60% containers go to two GPUs", node: twoFree, req: request(part("a", 1, 60), part("b", 1, 60)),
			want: []contract.ContainerAllocation{ca("a", dev(twoFree, 0, 60)), ca("b", dev(twoFree, 1, 60))}},
		{name: "two 50% containers share the first GPU", node: twoFree, req: request(part("a", 1, 50), part("b", 1, 50)),
			want: []contract.ContainerAllocation{ca("a", dev(twoFree, 0, 50)), ca("b", dev(twoFree, 0, 50))}},
		{name: "first-fit would strand a part; exact search places it",
			// Free 100 and 60. First-fit puts a (60) on GPU 0, b (50) on GPU 1 and
			// has no room for c; the only placement is a on GPU 1, b and c on GPU 0.
			node: trap, req: request(part("a", 1, 60), part("b", 1, 50), part("c", 1, 50)),
			want: []contract.ContainerAllocation{ca("a", dev(trap, 1, 60)), ca("b", dev(trap, 0, 50)), ca("c", dev(trap, 0, 50))}},
		{name: "whole and share parts", node: twoFree, req: request(part("a", 1, 30), part("train", 1, 100)),
			want: []contract.ContainerAllocation{ca("train", dev(twoFree, 0, 100)), ca("a", dev(twoFree, 1, 30))}},
		{name: "a replica's device is skipped", node: replica, req: func() *share.Request {
			r := request(part("main", 2, 100))
			r.Workload = "default/web"
			return r
		}(), want: []contract.ContainerAllocation{ca("main", dev(replica, 1, 100), dev(replica, 2, 100))}},
		{name: "sharing allowed", node: replica, req: func() *share.Request {
			r := request(part("main", 1, 90))
			r.Workload, r.AllowSharedDevice = "default/web", true
			return r
		}(), want: []contract.ContainerAllocation{ca("main", dev(replica, 0, 90))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(tt.node)
			got, r, ok := state.Place(tt.node, tt.req, state.First)
			require.True(t, ok, r.Message())
			want := contract.Allocation{Node: "n1", Containers: tt.want}
			if tt.want == nil {
				want.Containers = got.Containers
				assert.Empty(t, got.Containers)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("allocation (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(before, snapshot(tt.node)); diff != "" {
				t.Errorf("Place changed the node (-want,+got):\n%s", diff)
			}
			_, fits := state.Fit(tt.node, tt.req)
			assert.True(t, fits)
			require.NoError(t, tt.node.Clone().Assign("default/new", state.Holding{Allocation: got}))
		})
	}
}

func TestPlacePanicsOnABrokenChooser(t *testing.T) {
	n := coretest.MakeNode("n1").GPUs("T4", 4, 15360).State()
	tests := []struct {
		name     string
		chooser  state.Chooser
		wantText string
	}{
		{name: "too few", chooser: func(*state.NodeState, share.Part, []state.Cand, []int) []int { return []int{0} },
			wantText: `state: chooser picked 1 devices for container "main", which asks for 2`},
		{name: "twice", chooser: func(*state.NodeState, share.Part, []state.Cand, []int) []int { return []int{1, 1} },
			wantText: "state: chooser picked candidate 1 twice"},
		{name: "out of range", chooser: func(*state.NodeState, share.Part, []state.Cand, []int) []int { return []int{0, 4} },
			wantText: "state: chooser picked candidate 4 of 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.PanicsWithValue(t, tt.wantText, func() { state.Place(n, request(part("main", 2, 100)), tt.chooser) })
		})
	}
}

// TestFitHonoursIsolation: a pod that requires mps is placed only on the
// node's MPS cards, whichever chooser places it; one that requires nothing
// may use any card.
func TestFitHonoursIsolation(t *testing.T) {
	n := coretest.MakeNode("n1").GPUs("T4", 4, 15360).Isolation(3, device.IsolationMPS).State()
	req := request(part("main", 1, 25))
	req.Isolation = device.IsolationMPS
	_, ok := state.Fit(n, req)
	require.True(t, ok)
	a, _, ok := state.Place(n, req, state.First)
	require.True(t, ok)
	require.Equal(t, 3, a.Containers[0].Devices[0].Index)

	anyLevel := request(part("main", 1, 25))
	a, _, ok = state.Place(n, anyLevel, state.First)
	require.True(t, ok)
	require.Equal(t, 0, a.Containers[0].Devices[0].Index)
}
