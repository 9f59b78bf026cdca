package coretest

import (
	"sort"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/state"
)

// StateView is everything observable about a NodeState except its
// Generation, in a form cmp.Diff can compare directly.
type StateView struct {
	Name, Zone                                 string
	CPUFreeMilli, MemoryFreeMiB, CPUAllocMilli int64
	Devices                                    []DevView
	Holdings                                   map[string]state.Holding
}

// DevView is one device of a StateView.
type DevView struct {
	device.Device
	Used, Holders int
	// Workloads lists, sorted, the workloads of the node's holdings that
	// the device reports holding.
	Workloads []string
}

// View returns the observable state of n.
func View(n *state.NodeState) StateView {
	v := StateView{
		Name: n.Name, Zone: n.Zone,
		CPUFreeMilli: n.CPUFreeMilli, MemoryFreeMiB: n.MemoryFreeMiB, CPUAllocMilli: n.CPUAllocMilli,
		Holdings: map[string]state.Holding{},
	}
	workloads := map[string]bool{}
	for _, k := range n.PodKeys() {
		h, _ := n.Holding(k)
		v.Holdings[k] = h
		if h.Workload != "" {
			workloads[h.Workload] = true
		}
	}
	for i := range n.Devices {
		d := &n.Devices[i]
		dv := DevView{Device: d.Device, Used: d.Used, Holders: d.Holders}
		for w := range workloads {
			if d.HoldsWorkload(w) {
				dv.Workloads = append(dv.Workloads, w)
			}
		}
		sort.Strings(dv.Workloads)
		v.Devices = append(v.Devices, dv)
	}
	return v
}
