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

// items lists the units of every device the parts (indices into
// req.Parts) ask for, largest first, with the part each belongs to.
func items(req *share.Request, parts []int) (sizes, owner []int, asked int) {
	for _, pi := range parts {
		p := req.Parts[pi]
		for c := 0; c < p.Count; c++ {
			sizes = append(sizes, p.Units)
			owner = append(owner, pi)
		}
		asked += p.Total()
	}
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return sizes[order[i]] > sizes[order[j]] })
	s, o := make([]int, len(sizes)), make([]int, len(sizes))
	for i, j := range order {
		s[i], o[i] = sizes[j], owner[j]
	}
	return s, o, asked
}

// neverTogether reports, with the reason, when the parts (indices into
// req.Parts, all of one kind) could not fit together even if every device
// of an allowed model were free and healthy.
func neverTogether(n *NodeState, req *share.Request, parts []int) (Reason, bool) {
	k := req.Parts[parts[0]].Kind
	allowed := 0
	for i := range n.Devices {
		if d := &n.Devices[i]; d.Kind == k && req.AllowsDevice(&d.Device) {
			allowed++
		}
	}
	sizes, _, _ := items(req, parts)
	if need := minDevices(sizes); need > allowed {
		return Reason{Code: TooFewDevices, Kind: k, Models: req.Models[k], Asked: need, Have: allowed, Unresolvable: true}, true
	}
	return Reason{}, false
}

// packKind places every part (indices into req.Parts) of one kind at once by
// exact search, after the greedy placement failed with greedy although each
// part fits alone. free is the units free per device before any of these
// parts; on success it and picked hold the placement. On failure the reason
// describes the parts together.
func packKind(n *NodeState, req *share.Request, parts []int, free []int, picked [][]int, greedy Reason) (Reason, bool) {
	k := req.Parts[parts[0]].Kind
	sizes, owner, asked := items(req, parts)
	var bins, caps, withReplicas []int
	room := 0
	for i := range n.Devices {
		d := &n.Devices[i]
		if d.Kind != k || !req.AllowsDevice(&d.Device) || !d.Healthy() {
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
		for j, pi := range owner {
			i := bins[assign[j]]
			picked[pi] = append(picked[pi], i)
			free[i] -= sizes[j]
		}
		for _, pi := range parts {
			sort.Ints(picked[pi])
		}
		return Reason{}, true
	}
	r := Reason{Kind: k, Models: req.Models[k], Asked: asked, Have: room}
	if len(withReplicas) > len(caps) && packs(sizes, withReplicas) {
		r.Code, r.Units = ReplicaOnDevice, greedy.Units
	} else {
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
