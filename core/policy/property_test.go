package policy_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

var workloads = []string{"", "default/w1", "default/w2"}

func drawNode(t *rapid.T) *state.NodeState {
	w := coretest.MakeNode("n")
	for i := rapid.IntRange(0, 8).Draw(t, "gpus"); i > 0; i-- {
		w.GPUs(rapid.SampledFrom([]string{"T4", "A100"}).Draw(t, "model"), 1, 16384)
	}
	w.NPUs("Ascend910B", rapid.IntRange(0, 2).Draw(t, "npus"), 65536)
	for i := range w.Inventory().Devices {
		w.Topology(i, rapid.IntRange(device.NoNUMA, 1).Draw(t, "numa"), rapid.SampledFrom([]string{"", "l0", "l1"}).Draw(t, "link"))
	}
	n := w.State()
	if rapid.Bool().Draw(t, "tracksHost") {
		n.WithHost(64000, rapid.Int64Range(0, 64000).Draw(t, "cpuFree"), 1<<18)
	}
	return n
}

func drawRequest(t *rapid.T, pod string) *share.Request {
	req := &share.Request{Pod: pod, CPUMilli: rapid.Int64Range(0, 4000).Draw(t, "cpu")}
	for j := rapid.IntRange(0, 3).Draw(t, "parts"); j > 0; j-- {
		p := share.Part{Container: fmt.Sprintf("c%d", j), Kind: rapid.SampledFrom([]device.Kind{device.GPU, device.GPU, device.GPU, device.NPU}).Draw(t, "kind"), Count: 1}
		if rapid.IntRange(0, 3).Draw(t, "whole") == 0 {
			p.Count, p.Units = rapid.IntRange(1, 3).Draw(t, "count"), device.UnitsPerDevice
		} else {
			p.Units = rapid.IntRange(1, 100).Draw(t, "units")
		}
		req.Parts = append(req.Parts, p)
	}
	req.Workload = rapid.SampledFrom(workloads).Draw(t, "workload")
	req.AllowSharedDevice = rapid.Bool().Draw(t, "allowShared")
	switch rapid.IntRange(0, 3).Draw(t, "models") {
	case 0:
		req.Models = map[device.Kind][]string{device.GPU: {"T4"}}
	case 1:
		req.Models = map[device.Kind][]string{device.GPU: {"A100", "T4"}}
	}
	req.SortParts()
	return req
}

func drawWorkload(t *rapid.T) policy.Workload {
	var w policy.Workload
	for i := rapid.IntRange(1, 4).Draw(t, "shapes"); i > 0; i-- {
		s := policy.Shape{CPUMilli: rapid.Int64Range(0, 8000).Draw(t, "shapeCPU"), Weight: rapid.Float64Range(0.1, 10).Draw(t, "weight")}
		switch rapid.IntRange(0, 2).Draw(t, "shapeType") {
		case 0: // CPU only
		case 1:
			s.Count, s.Units = 1, rapid.IntRange(1, 100).Draw(t, "shapeUnits")
		case 2:
			s.Count, s.Units = rapid.IntRange(1, 4).Draw(t, "shapeCount"), device.UnitsPerDevice
		}
		if rapid.IntRange(0, 3).Draw(t, "shapeModels") == 0 {
			s.Models = []string{"A100"}
		}
		w = append(w, s)
	}
	return w
}

// checkBooks verifies that every device's Used, Holders and workloads are
// what the holdings add up to, and Used stays within 0..100.
func checkBooks(t *rapid.T, n *state.NodeState) {
	used, holders := map[string]int{}, map[string]int{}
	holds := map[string]map[string]bool{}
	keys := n.PodKeys()
	if len(keys) != n.Pods() {
		t.Fatalf("PodKeys has %d keys, Pods says %d", len(keys), n.Pods())
	}
	for _, k := range keys {
		h, ok := n.Holding(k)
		if !ok {
			t.Fatalf("PodKeys lists %s, Holding does not know it", k)
		}
		for id, u := range h.Allocation.Units() {
			used[id] += u
			holders[id]++
			if holds[id] == nil {
				holds[id] = map[string]bool{}
			}
			holds[id][h.Workload] = true
		}
	}
	for i := range n.Devices {
		d := &n.Devices[i]
		if d.Used < 0 || d.Used > device.UnitsPerDevice {
			t.Fatalf("device %s has Used %d", d.ID, d.Used)
		}
		if d.Used != used[d.ID] || d.Holders != holders[d.ID] {
			t.Fatalf("device %s: Used %d Holders %d, holdings add up to %d and %d", d.ID, d.Used, d.Holders, used[d.ID], holders[d.ID])
		}
		for _, w := range workloads[1:] {
			if d.HoldsWorkload(w) != holds[d.ID][w] {
				t.Fatalf("device %s: HoldsWorkload(%s) = %v, holdings say %v", d.ID, w, d.HoldsWorkload(w), holds[d.ID][w])
			}
		}
		if d.HoldsWorkload("") {
			t.Fatalf("device %s holds the empty workload", d.ID)
		}
	}
}

// checkAllocation verifies an allocation against the request and the node
// it was placed on.
func checkAllocation(t *rapid.T, n *state.NodeState, req *share.Request, a contract.Allocation) {
	if err := a.Validate(); err != nil {
		t.Fatalf("invalid allocation %+v: %v", a, err)
	}
	if len(a.Containers) != len(req.Parts) {
		t.Fatalf("allocation has %d containers for %d parts", len(a.Containers), len(req.Parts))
	}
	for i, p := range req.Parts {
		c := a.Containers[i]
		if c.Container != p.Container || c.Kind != p.Kind || len(c.Devices) != p.Count {
			t.Fatalf("container %d: %+v for part %+v", i, c, p)
		}
		for _, ds := range c.Devices {
			var d *state.Dev
			for j := range n.Devices {
				if n.Devices[j].ID == ds.ID {
					d = &n.Devices[j]
				}
			}
			switch {
			case d == nil:
				t.Fatalf("unknown device %s", ds.ID)
			case ds.Units != p.Units || ds.Index != d.Index:
				t.Fatalf("device share %+v for part %+v of device index %d", ds, p, d.Index)
			case d.Kind != p.Kind || !d.Healthy() || !req.Allows(p.Kind, d.Model):
				t.Fatalf("device %+v may not serve part %+v", d.Device, p)
			case !req.AllowSharedDevice && d.HoldsWorkload(req.Workload):
				t.Fatalf("device %s already holds a replica of %s", d.ID, req.Workload)
			}
		}
	}
}

// TestStrategiesKeepTheBooks runs random sequences of Place+Assign,
// Release, Clone and health changes with every strategy.
func TestStrategiesKeepTheBooks(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		strategies := map[policy.Type]policy.Strategy{}
		w := drawWorkload(t)
		for _, typ := range policy.Types() {
			s, err := policy.New(typ, policy.Options{Workload: w, Seed: 1})
			if err != nil {
				t.Fatalf("New(%s): %v", typ, err)
			}
			strategies[typ] = s
		}
		n := drawNode(t)
		type fork struct {
			n    *state.NodeState
			view coretest.StateView
		}
		var forks []fork
		pods := 0

		t.Repeat(map[string]func(*rapid.T){
			"place": func(t *rapid.T) {
				pods++
				req := drawRequest(t, fmt.Sprintf("default/p%d", pods))
				typ := rapid.SampledFrom(policy.Types()).Draw(t, "policy")
				before := coretest.View(n)
				alloc, score, ok := strategies[typ].Score(n, req)
				if diff := cmp.Diff(before, coretest.View(n)); diff != "" {
					t.Fatalf("%s.Score changed the node (-want,+got):\n%s", typ, diff)
				}
				reason, fits := state.Fit(n, req)
				if ok != fits {
					t.Fatalf("%s.Score ok = %v, Fit = %v (%s)", typ, ok, fits, reason.Message())
				}
				if !ok {
					return
				}
				if policy.Normalization(strategies[typ].Normalization()) == policy.Clamp && typ != policy.BestFit && (score < 0 || score > policy.MaxScore) {
					t.Fatalf("%s scored %d, outside 0..%d", typ, score, policy.MaxScore)
				}
				checkAllocation(t, n, req, alloc)
				h := state.Holding{Allocation: alloc, Workload: req.Workload, CPUMilli: req.CPUMilli, MemoryMiB: req.MemoryMiB}
				if err := n.Assign(req.Pod, h); err != nil {
					t.Fatalf("%s placed %+v, Assign says %v", typ, alloc, err)
				}
				if rapid.IntRange(0, 3).Draw(t, "undo") == 0 {
					if !n.Release(req.Pod) {
						t.Fatalf("Release(%s) found nothing", req.Pod)
					}
					if diff := cmp.Diff(before, coretest.View(n)); diff != "" {
						t.Fatalf("Release after Assign (-want,+got):\n%s", diff)
					}
				}
			},
			"release": func(t *rapid.T) {
				keys := n.PodKeys()
				if len(keys) == 0 {
					t.Skip("nothing to release")
				}
				sort.Strings(keys)
				k := rapid.SampledFrom(keys).Draw(t, "pod")
				if !n.Release(k) {
					t.Fatalf("Release(%s) found nothing", k)
				}
				if n.Release(k) {
					t.Fatalf("Release(%s) twice", k)
				}
			},
			"clone": func(t *rapid.T) {
				c := n.Clone()
				if diff := cmp.Diff(coretest.View(n), coretest.View(c)); diff != "" {
					t.Fatalf("clone differs (-want,+got):\n%s", diff)
				}
				// Carry on with one of them and freeze the other.
				if rapid.Bool().Draw(t, "keepClone") {
					n, c = c, n
				}
				forks = append(forks, fork{c, coretest.View(c)})
			},
			"health": func(t *rapid.T) {
				if len(n.Devices) == 0 {
					t.Skip("no devices")
				}
				i := rapid.IntRange(0, len(n.Devices)-1).Draw(t, "device")
				h := rapid.SampledFrom([]device.Health{device.Healthy, device.Unhealthy}).Draw(t, "health")
				if !n.SetHealth(n.Devices[i].ID, h) {
					t.Fatalf("SetHealth(%s) failed", n.Devices[i].ID)
				}
			},
			"": func(t *rapid.T) {
				checkBooks(t, n)
				for _, f := range forks {
					if diff := cmp.Diff(f.view, coretest.View(f.n)); diff != "" {
						t.Fatalf("a frozen fork changed (-want,+got):\n%s", diff)
					}
				}
			},
		})
	})
}
