package deviceshare

import (
	"sync"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/scheduler/apis/config"
)

// strategyHolder keeps the configured strategy. A policy that measures
// against a workload and was given none inline is rebuilt whenever the
// observed distribution of request shapes changes.
type strategyHolder struct {
	mu       sync.RWMutex
	typ      policy.Type
	seed     int64
	current  policy.Strategy
	observed *observedWorkload
	version  uint64
}

func newStrategyHolder(args *config.DeviceShareArgs, observed *observedWorkload) (*strategyHolder, error) {
	h := &strategyHolder{typ: args.Policy, seed: args.Seed}
	w := policy.Workload(args.Workload)
	if policy.NeedsWorkload(args.Policy) && len(w) == 0 {
		h.observed = observed
		// Until pods are seen, every shape is a whole device.
		w = policy.Workload{{Count: 1, Units: 100, Weight: 1}}
	}
	s, err := policy.New(args.Policy, policy.Options{Workload: w, Seed: args.Seed})
	if err != nil {
		return nil, err
	}
	h.current = s
	return h, nil
}

// get returns the strategy, refreshed from the observed workload if due.
func (h *strategyHolder) get() policy.Strategy {
	if h.observed == nil {
		return h.current
	}
	w, version := h.observed.snapshot()
	h.mu.RLock()
	cur, stale := h.current, version != h.version && len(w) > 0
	h.mu.RUnlock()
	if !stale {
		return cur
	}
	s, err := policy.New(h.typ, policy.Options{Workload: w, Seed: h.seed})
	if err != nil {
		return cur
	}
	h.mu.Lock()
	h.current, h.version = s, version
	h.mu.Unlock()
	return s
}
