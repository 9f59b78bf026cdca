package state

import (
	"sort"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// packBudget bounds the exact search. Pods have a handful of device
// containers, which takes a few dozen steps; the bound only keeps a
// pathological request from stalling a scheduling cycle.
const packBudget = 1 << 14

// packKind places every part (indices into req.Parts) of one kind at once by
// exact search, after the greedy placement failed with greedy. free is the
// units free per device before any of these parts; on success it and picked
// hold the placement. On failure the reason describes the parts together.
func packKind(n *NodeState, req *share.Request, parts []int, free []int, picked [][]int, greedy Reason) (Reason, bool) {
	k := req.Parts[parts[0]].Kind
	type item struct{ part, units int }
	var items []item
	asked := 0
	for _, pi := range parts {
		p := req.Parts[pi]
		for c := 0; c < p.Count; c++ {
			items = append(items, item{pi, p.Units})
		}
		asked += p.Total()
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].units > items[j].units })
	sizes := make([]int, len(items))
	for j, it := range items {
		sizes[j] = it.units
	}

	var bins, caps, withReplicas []int
	allowed, room := 0, 0
	for i := range n.Devices {
		d := &n.Devices[i]
		if d.Kind != k || !req.Allows(k, d.Model) {
			continue
		}
		allowed++
		if !d.Healthy() {
			continue
		}
		withReplicas = append(withReplicas, free[i])
		if !req.AllowSharedDevice && d.HoldsWorkload(req.Workload) {
			continue
		}
		bins = append(bins, i)
		caps = append(caps, free[i])
		room += free[i]
	}
	if assign, ok := pack(sizes, caps); ok {
		for _, pi := range parts {
			picked[pi] = nil
		}
		for j, it := range items {
			i := bins[assign[j]]
			picked[it.part] = append(picked[it.part], i)
			free[i] -= it.units
		}
		for _, pi := range parts {
			sort.Ints(picked[pi])
		}
		return Reason{}, true
	}

	r := Reason{Kind: k, Models: req.Models[k], Asked: asked, Have: room}
	switch need := minDevices(sizes); {
	case need > allowed:
		r.Code, r.Asked, r.Have, r.Unresolvable = TooFewDevices, need, allowed, true
	case len(withReplicas) > len(caps) && packs(sizes, withReplicas):
		r.Code, r.Units = ReplicaOnDevice, greedy.Units
	default:
		r.Code = InsufficientShare
	}
	return r, false
}

// minDevices returns how many empty devices the items need at least.
func minDevices(sizes []int) int {
	sum := 0
	for _, s := range sizes {
		sum += s
	}
	for m := (sum + device.UnitsPerDevice - 1) / device.UnitsPerDevice; m < len(sizes); m++ {
		caps := make([]int, m)
		for i := range caps {
			caps[i] = device.UnitsPerDevice
		}
		if packs(sizes, caps) {
			return m
		}
	}
	return len(sizes)
}

func packs(sizes, caps []int) bool {
	_, ok := pack(sizes, caps)
	return ok
}

// pack assigns each item (sizes, largest first) to a bin with room (caps,
// each at most UnitsPerDevice) and returns the bin of each item. Bins with
// equal room are interchangeable, so each level tries one of each.
func pack(sizes, caps []int) ([]int, bool) {
	need, room := 0, 0
	for _, s := range sizes {
		need += s
	}
	for _, c := range caps {
		room += c
	}
	if need > room {
		return nil, false
	}
	caps = append([]int(nil), caps...)
	assign := make([]int, len(sizes))
	steps := 0
	var place func(j int) bool
	place = func(j int) bool {
		if j == len(sizes) {
			return true
		}
		if steps++; steps > packBudget {
			return false
		}
		var tried [device.UnitsPerDevice + 1]bool
		for b, c := range caps {
			if c < sizes[j] || tried[c] {
				continue
			}
			tried[c] = true
			caps[b] -= sizes[j]
			assign[j] = b
			if place(j + 1) {
				return true
			}
			caps[b] += sizes[j]
		}
		return false
	}
	if !place(0) {
		return nil, false
	}
	return assign, true
}
