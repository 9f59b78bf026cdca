package expander

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/estimator"
)

// Option is one way to scale up: NodeCount nodes of Group, taking Pods.
type Option struct {
	Group     config.NodeGroup
	NodeCount int
	// Pods are the pending pods the new nodes take.
	Pods []*corev1.Pod
	// Nodes are the estimated new nodes with the pods placed on them
	// (bound copies carrying the plugin's allocation).
	Nodes []estimator.Node
	// Debug says why the option exists, for events.
	Debug string
}

// Strategy picks one option; nil when options is empty.
type Strategy interface {
	BestOption(options []Option) *Option
}

// Filter keeps the best options; it never returns an empty slice for a
// non-empty input.
type Filter interface {
	BestOptions(options []Option) []Option
}

// scored keeps the options with the lowest score (within eps).
func scored(options []Option, score func(*Option) float64) []Option {
	if len(options) <= 1 {
		return options
	}
	const eps = 1e-9
	best := score(&options[0])
	keep := []Option{options[0]}
	for i := 1; i < len(options); i++ {
		s := score(&options[i])
		switch {
		case s < best-eps:
			best, keep = s, []Option{options[i]}
		case s <= best+eps:
			keep = append(keep, options[i])
		}
	}
	return keep
}
