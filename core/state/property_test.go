package state_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// smallNode draws a node of up to 4 GPUs and 1 NPU, some unhealthy, with
// random holdings of random workloads.
func smallNode(t *rapid.T) *state.NodeState {
	w := coretest.MakeNode("n")
	for i := rapid.IntRange(0, 4).Draw(t, "gpus"); i > 0; i-- {
		w.GPUs(rapid.SampledFrom([]string{"T4", "A100"}).Draw(t, "model"), 1, 16384)
	}
	w.NPUs("Ascend910B", rapid.IntRange(0, 1).Draw(t, "npus"), 65536)
	n := w.State()
	for i := range n.Devices {
		if u := rapid.IntRange(0, 100).Draw(t, "used"); u > 0 && rapid.Bool().Draw(t, "held") {
			wl := rapid.SampledFrom([]string{"", "default/w1"}).Draw(t, "workload")
			coretest.HoldAs(n, fmt.Sprintf("default/h%d", i), wl, u, i)
		}
		if rapid.IntRange(0, 5).Draw(t, "sick") == 0 {
			n.SetHealth(n.Devices[i].ID, device.Unhealthy)
		}
	}
	return n
}

// smallRequest draws up to 4 parts, each a share or 1-2 whole devices.
func smallRequest(t *rapid.T) *share.Request {
	req := &share.Request{Pod: "default/p"}
	for j := rapid.IntRange(0, 4).Draw(t, "parts"); j > 0; j-- {
		p := share.Part{Container: fmt.Sprintf("c%d", j), Kind: rapid.SampledFrom([]device.Kind{device.GPU, device.GPU, device.NPU}).Draw(t, "kind"), Count: 1}
		if rapid.IntRange(0, 3).Draw(t, "whole") == 0 {
			p.Count, p.Units = rapid.IntRange(1, 2).Draw(t, "count"), device.UnitsPerDevice
		} else {
			p.Units = rapid.SampledFrom([]int{1, 10, 20, 25, 30, 40, 50, 60, 70, 75, 90, 99}).Draw(t, "units")
		}
		req.Parts = append(req.Parts, p)
	}
	req.Workload = rapid.SampledFrom([]string{"", "default/w1"}).Draw(t, "reqWorkload")
	req.AllowSharedDevice = rapid.Bool().Draw(t, "allowShared")
	if rapid.Bool().Draw(t, "constrained") {
		req.Models = map[device.Kind][]string{device.GPU: {"T4"}}
	}
	req.SortParts()
	return req
}

// bruteFits tries every assignment of every device a request asks for.
func bruteFits(n *state.NodeState, req *share.Request) bool {
	free := n.FreeVector()
	type item struct{ part, units int }
	var items []item
	for pi, p := range req.Parts {
		for c := 0; c < p.Count; c++ {
			items = append(items, item{pi, p.Units})
		}
	}
	taken := make([]map[int]bool, len(req.Parts))
	for i := range taken {
		taken[i] = map[int]bool{}
	}
	var try func(j int) bool
	try = func(j int) bool {
		if j == len(items) {
			return true
		}
		it := items[j]
		p := req.Parts[it.part]
		for i := range n.Devices {
			d := &n.Devices[i]
			if d.Kind != p.Kind || !req.Allows(p.Kind, d.Model) || !d.Healthy() || free[i] < it.units || taken[it.part][i] {
				continue
			}
			if !req.AllowSharedDevice && d.HoldsWorkload(req.Workload) {
				continue
			}
			free[i] -= it.units
			taken[it.part][i] = true
			if try(j + 1) {
				return true
			}
			free[i] += it.units
			delete(taken[it.part], i)
		}
		return false
	}
	return try(0)
}

// TestFitIsExact: Fit (and Place with any chooser) succeeds exactly when
// some placement exists, and the placement it returns is one.
func TestFitIsExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := smallNode(t)
		req := smallRequest(t)
		want := bruteFits(n, req)
		r, got := state.Fit(n, req)
		if got != want {
			t.Fatalf("Fit = %v (%s), brute force = %v", got, r.Message(), want)
		}
		last := func(_ *state.NodeState, p share.Part, c []state.Cand, _ []int) []int {
			out := make([]int, p.Count)
			for i := range out {
				out[i] = len(c) - 1 - i
			}
			return out
		}
		for name, choose := range map[string]state.Chooser{"first": state.First, "last": last} {
			alloc, _, ok := state.Place(n, req, choose)
			if ok != want {
				t.Fatalf("Place(%s) = %v, brute force = %v", name, ok, want)
			}
			if !ok {
				// Unresolvable exactly when it does not fit even with every
				// holding gone and every device healthy.
				empty := coretest.MakeNode("n").State()
				empty.Devices = nil
				for i := range n.Devices {
					d := n.Devices[i].Device
					d.Health = device.Healthy
					empty.Devices = append(empty.Devices, state.Dev{Device: d})
				}
				if fits := bruteFits(empty, req); fits == r.Unresolvable {
					t.Fatalf("reason %q has Unresolvable %v, but on the emptied node fits = %v", r.Message(), r.Unresolvable, fits)
				}
				continue
			}
			before := coretest.View(n)
			c := n.Clone()
			if err := c.Assign(req.Pod, state.Holding{Allocation: alloc, Workload: req.Workload}); err != nil {
				t.Fatalf("Place(%s) returned %+v, which does not assign: %v", name, alloc, err)
			}
			c.Release(req.Pod)
			if diff := cmp.Diff(before, coretest.View(c)); diff != "" {
				t.Fatalf("Release after Assign (-want,+got):\n%s", diff)
			}
		}
	})
}
