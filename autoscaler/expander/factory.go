package expander

import (
	"fmt"
	"math/rand"
	"sort"
)

// constructors maps a configured name to its filter.
var constructors = map[string]func(*rand.Rand) Filter{
	"least-waste":   func(*rand.Rand) Filter { return LeastWaste{} },
	"fragmentation": func(*rand.Rand) Filter { return Fragmentation{} },
	"price":         func(*rand.Rand) Filter { return Price{} },
	"priority":      func(*rand.Rand) Filter { return Priority{} },
	"least-nodes":   func(*rand.Rand) Filter { return LeastNodes{} },
	"most-pods":     func(*rand.Rand) Filter { return MostPods{} },
	"random":        func(r *rand.Rand) Filter { return Random{Rand: r} },
}

// Names lists the known expanders, sorted.
func Names() []string {
	var out []string
	for n := range constructors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Chain applies filters in order, then picks at random among what is left.
type Chain struct {
	Filters  []Filter
	Fallback Strategy
}

// BestOption implements Strategy.
func (c Chain) BestOption(options []Option) *Option {
	for _, f := range c.Filters {
		if len(options) <= 1 {
			break
		}
		options = f.BestOptions(options)
	}
	return c.Fallback.BestOption(options)
}

// NewChain builds the chain named by names; seed makes the random
// fallback reproducible. Unknown or repeated names are errors.
func NewChain(names []string, seed int64) (Strategy, error) {
	r := rand.New(rand.NewSource(seed))
	c := Chain{Fallback: Random{Rand: r}}
	seen := map[string]bool{}
	for _, n := range names {
		mk, ok := constructors[n]
		if !ok {
			return nil, fmt.Errorf("unknown expander %q (known: %v)", n, Names())
		}
		if seen[n] {
			return nil, fmt.Errorf("expander %q listed twice", n)
		}
		seen[n] = true
		c.Filters = append(c.Filters, mk(r))
	}
	return c, nil
}
