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
	s, _ := h.getVersioned()
	return s
}

// getVersioned returns the strategy and a version that changes whenever
// the strategy is rebuilt.
func (h *strategyHolder) getVersioned() (policy.Strategy, uint64) {
	if h.observed == nil {
		return h.current, 0
	}
	w, version := h.observed.snapshot()
	h.mu.RLock()
	cur, curVersion := h.current, h.version
	h.mu.RUnlock()
	if version == curVersion || len(w) == 0 {
		return cur, curVersion
	}
	s, err := policy.New(h.typ, policy.Options{Workload: w, Seed: h.seed})
	if err != nil {
		return cur, curVersion
	}
	h.mu.Lock()
	h.current, h.version = s, version
	h.mu.Unlock()
	return s, version
}
