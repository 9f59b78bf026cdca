package expander

import "math/rand"

// Price keeps the options with the lowest price per pod helped.
type Price struct{}

// BestOptions implements Filter.
func (Price) BestOptions(options []Option) []Option {
	return scored(options, func(o *Option) float64 {
		return float64(o.NodeCount) * o.Group.PricePerHour / float64(max(1, len(o.Pods)))
	})
}

// Priority keeps the options of the groups with the highest priority.
type Priority struct{}

// BestOptions implements Filter.
func (Priority) BestOptions(options []Option) []Option {
	return scored(options, func(o *Option) float64 { return -float64(o.Group.Priority) })
}

// LeastNodes keeps the options adding the fewest nodes.
type LeastNodes struct{}

// BestOptions implements Filter.
func (LeastNodes) BestOptions(options []Option) []Option {
	return scored(options, func(o *Option) float64 { return float64(o.NodeCount) })
}

// MostPods keeps the options helping the most pods.
type MostPods struct{}

// BestOptions implements Filter.
func (MostPods) BestOptions(options []Option) []Option {
	return scored(options, func(o *Option) float64 { return -float64(len(o.Pods)) })
}

// Random picks one option at random.
type Random struct{ Rand *rand.Rand }

// BestOption implements Strategy.
func (r Random) BestOption(options []Option) *Option {
	if len(options) == 0 {
		return nil
	}
	return &options[r.Rand.Intn(len(options))]
}

// BestOptions implements Filter.
func (r Random) BestOptions(options []Option) []Option {
	if len(options) <= 1 {
		return options
	}
	return []Option{*r.BestOption(options)}
}
