package deviceshare

import (
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
)

// observedWorkload learns the distribution of request shapes from the pods
// the plugin sees, for FGD when no distribution is configured: the most
// frequent shapes until they cover the configured share of pods.
type observedWorkload struct {
	mu       sync.Mutex
	coverage float64
	seen     map[types.UID]bool
	counts   map[string]*policy.Shape
	version  uint64
	cached   policy.Workload
	cachedAt uint64
}

// maxTracked bounds the set of pod UIDs remembered, maxShapes the distinct
// shapes counted.
const (
	maxTracked = 100000
	maxShapes  = 1024
)

func newObservedWorkload(coveragePercent int32) *observedWorkload {
	return &observedWorkload{coverage: float64(coveragePercent) / 100, seen: map[types.UID]bool{}, counts: map[string]*policy.Shape{}}
}

// observe counts pod's shape once.
func (o *observedWorkload) observe(uid types.UID, req *share.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[uid] {
		return
	}
	if len(o.seen) >= maxTracked {
		o.seen = map[types.UID]bool{}
	}
	o.seen[uid] = true
	s := policy.Shape{CPUMilli: req.CPUMilli}
	if len(req.Parts) > 0 {
		p := req.Parts[0]
		s.Kind, s.Count, s.Units, s.Models = p.Kind, p.Count, p.Units, req.Models[p.Kind]
	}
	k := s.Key()
	if c, ok := o.counts[k]; ok {
		c.Weight++
	} else if len(o.counts) < maxShapes {
		s.Weight = 1
		o.counts[k] = &s
	} else {
		// Past maxShapes distinct shapes a new one is too rare to matter
		// to the distribution: not counted, and the map stays bounded.
		return
	}
	o.version++
}

// snapshot returns the learnt workload and its version. It recomputes at
// most once per 64 new pods, so FGD's view is stable between bursts.
func (o *observedWorkload) snapshot() (policy.Workload, uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cached != nil && o.version-o.cachedAt < 64 {
		return o.cached, o.cachedAt
	}
	all := make([]policy.Shape, 0, len(o.counts))
	var total float64
	for _, s := range o.counts {
		all = append(all, *s)
		total += s.Weight
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Weight != all[j].Weight {
			return all[i].Weight > all[j].Weight
		}
		return all[i].Key() < all[j].Key()
	})
	var out policy.Workload
	var covered float64
	for _, s := range all {
		if total > 0 && covered/total >= o.coverage {
			break
		}
		out = append(out, s)
		covered += s.Weight
	}
	o.cached, o.cachedAt = out.Normalized(), o.version
	return o.cached, o.cachedAt
}
