package expander

import (
	"github.com/gantry-dev/gantry/autoscaler/utils/podutil"
	"github.com/gantry-dev/gantry/core/device"
)

// LeastWaste keeps the options leaving the smallest fraction of the new
// nodes idle, summed over device share units, CPU and memory:
// Σ_dim (capacity − requested)/capacity, over the dimensions the nodes have.
type LeastWaste struct{}

// BestOptions implements Filter.
func (LeastWaste) BestOptions(options []Option) []Option { return scored(options, Waste) }

// Waste is LeastWaste's score of o.
func Waste(o *Option) float64 {
	var capU, usedU, capC, usedC, capM, usedM float64
	for _, n := range o.Nodes {
		ns := podutil.NodeState(n.Node, n.Pods)
		for _, k := range device.Kinds {
			capU += float64(ns.Capacity(k))
			usedU += float64(ns.Used(k))
		}
		capC += float64(ns.CPUAllocMilli)
		usedC += float64(ns.CPUAllocMilli - ns.CPUFreeMilli)
		m := float64(n.Node.Status.Allocatable.Memory().Value() >> 20)
		capM += m
		usedM += m - float64(ns.MemoryFreeMiB)
	}
	w := 0.0
	for _, d := range [][2]float64{{capU, usedU}, {capC, usedC}, {capM, usedM}} {
		if d[0] > 0 {
			w += (d[0] - d[1]) / d[0]
		}
	}
	return w
}
