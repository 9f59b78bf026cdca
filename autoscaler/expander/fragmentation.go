package expander

import (
	"github.com/gantry-dev/gantry/autoscaler/utils/podutil"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
)

// Fragmentation keeps the options that strand the fewest share units: after
// the estimated placement, the free units of the new nodes that the pending
// pods' shapes could not use (FGD's node fragmentation, measured against
// the shapes of every option's pods, weighted by count).
type Fragmentation struct{}

// BestOptions implements Filter.
func (Fragmentation) BestOptions(options []Option) []Option {
	w := Workload(options)
	if len(w) == 0 {
		return options
	}
	return scored(options, func(o *Option) float64 { return Stranded(o, w) })
}

// Workload returns the shapes of the options' pods, each pod counted once.
func Workload(options []Option) policy.Workload {
	seen := map[string]bool{}
	count := map[string]int{}
	shapes := map[string]policy.Shape{}
	total := 0
	for _, o := range options {
		for _, p := range o.Pods {
			if seen[podutil.Key(p)] {
				continue
			}
			seen[podutil.Key(p)] = true
			req, err := share.Parse(p)
			if err != nil || req.Empty() {
				continue
			}
			part := req.Parts[0]
			cpu, _ := podutil.Requests(p)
			s := policy.Shape{Kind: part.Kind, CPUMilli: cpu, Count: part.Count, Units: part.Units, Models: req.Models[part.Kind]}
			shapes[s.Key()] = s
			count[s.Key()]++
			total++
		}
	}
	var w policy.Workload
	for k, s := range shapes {
		s.Weight = float64(count[k]) / float64(total)
		w = append(w, s)
	}
	return w
}

// Stranded is Fragmentation's score of o against w.
func Stranded(o *Option, w policy.Workload) float64 {
	f := 0.0
	for _, n := range o.Nodes {
		ns := podutil.NodeState(n.Node, n.Pods)
		if len(ns.Devices) == 0 {
			continue
		}
		f += policy.NodeFragmentation(ns, w)
	}
	return f
}
