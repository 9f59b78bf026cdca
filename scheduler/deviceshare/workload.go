package deviceshare

import (
	"math"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
)

// observedWorkload learns the distribution of request shapes from the pods
// the plugin sees, for FGD when no distribution is configured: the most
// frequent shapes until they cover the configured share of pods.
//
// Two rules keep the estimate about the cluster's current work rather than
// its history or one tenant:
//
//   - Aging: every observation counts with weight 1 when seen and loses half
//     its weight over the next halfLife observations, so shapes nobody asks
//     for any more fade out; when the table is full the lightest entry
//     makes room, so a new shape is always counted.
//   - Fair share: no namespace weighs more than maxNamespaceShare of the
//     total (when there are too few namespaces for that, all weigh the same).
//     A tenant that floods the scheduler with pods of odd shapes moves the
//     estimate at most by its share.
type observedWorkload struct {
	mu       sync.Mutex
	coverage float64
	seen     map[types.UID]bool
	// entries are keyed by namespace and shape; weight is as of tick at.
	entries map[entryKey]*entry
	// tick counts observations.
	tick     uint64
	cached   policy.Workload
	cachedAt uint64

	halfLife          float64
	maxNamespaceShare float64
}

type entryKey struct{ namespace, shape string }

type entry struct {
	shape  policy.Shape
	weight float64
	at     uint64
}

const (
	// maxTracked bounds the set of pod UIDs remembered, maxEntries the
	// (namespace, shape) pairs counted.
	maxTracked = 100000
	maxEntries = 1024
	// defaultHalfLife is in observations: a shape last seen this many pods
	// ago counts half.
	defaultHalfLife = 4096
	// defaultMaxNamespaceShare caps one namespace's part of the estimate.
	defaultMaxNamespaceShare = 0.25
	// refreshEvery is how many observations a cached estimate lives.
	refreshEvery = 64
)

func newObservedWorkload(coveragePercent int32) *observedWorkload {
	return &observedWorkload{
		coverage: float64(coveragePercent) / 100, seen: map[types.UID]bool{}, entries: map[entryKey]*entry{},
		halfLife: defaultHalfLife, maxNamespaceShare: defaultMaxNamespaceShare,
	}
}

// decayed is e's weight at tick now.
func (o *observedWorkload) decayed(e *entry, now uint64) float64 {
	return e.weight * math.Exp2(-float64(now-e.at)/o.halfLife)
}

// observe counts the shape of pod uid in namespace once.
func (o *observedWorkload) observe(namespace string, uid types.UID, req *share.Request) {
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
	o.tick++
	k := entryKey{namespace, s.Key()}
	if e, ok := o.entries[k]; ok {
		e.weight = o.decayed(e, o.tick) + 1
		e.at = o.tick
		return
	}
	if len(o.entries) >= maxEntries {
		o.evictLightest()
	}
	o.entries[k] = &entry{shape: s, weight: 1, at: o.tick}
}

// evictLightest drops the entry with the least weight now (ties: the
// smallest key, so the choice is deterministic).
func (o *observedWorkload) evictLightest() {
	var victim entryKey
	least := math.Inf(1)
	for k, e := range o.entries {
		w := o.decayed(e, o.tick)
		if w < least || (w == least && (k.namespace < victim.namespace || (k.namespace == victim.namespace && k.shape < victim.shape))) {
			victim, least = k, w
		}
	}
	delete(o.entries, victim)
}

// snapshot returns the learnt workload and its version. It recomputes at
// most once per refreshEvery new pods, so FGD's view is stable between
// bursts.
func (o *observedWorkload) snapshot() (policy.Workload, uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cached != nil && o.tick-o.cachedAt < refreshEvery {
		return o.cached, o.cachedAt
	}
	o.cached, o.cachedAt = o.estimate(), o.tick
	return o.cached, o.cachedAt
}

// estimate is the fair-shared, aged distribution cut to the coverage.
func (o *observedWorkload) estimate() policy.Workload {
	// Sums run in key order, so the same observations give the same bits.
	keys := make([]entryKey, 0, len(o.entries))
	for k := range o.entries {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].namespace != keys[j].namespace {
			return keys[i].namespace < keys[j].namespace
		}
		return keys[i].shape < keys[j].shape
	})
	perNS := map[string]float64{}
	for _, k := range keys {
		perNS[k.namespace] += o.decayed(o.entries[k], o.tick)
	}
	scale := fairShares(perNS, o.maxNamespaceShare)
	byShape := map[string]*policy.Shape{}
	for _, k := range keys {
		e := o.entries[k]
		w := o.decayed(e, o.tick) * scale[k.namespace]
		if s, ok := byShape[k.shape]; ok {
			s.Weight += w
			continue
		}
		s := e.shape
		s.Weight = w
		byShape[k.shape] = &s
	}
	all := make([]policy.Shape, 0, len(byShape))
	var total float64
	for _, s := range byShape {
		if s.Weight > 0 {
			all = append(all, *s)
			total += s.Weight
		}
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
	return out.Normalized()
}

// fairShares returns, per namespace, the factor that caps its weight at
// maxShare of the capped total: capped namespaces get maxShare·S each where
// S = sum of the uncapped weights / (1 - capped·maxShare). When every
// namespace would be capped (fewer than 1/maxShare of them), all get the
// same weight.
func fairShares(weights map[string]float64, maxShare float64) map[string]float64 {
	scale := make(map[string]float64, len(weights))
	if len(weights) == 0 {
		return scale
	}
	if float64(len(weights))*maxShare <= 1 {
		for ns, w := range weights {
			if w > 0 {
				scale[ns] = 1 / w
			}
		}
		return scale
	}
	names := make([]string, 0, len(weights))
	for ns := range weights {
		names = append(names, ns)
	}
	sort.Strings(names)
	capped := map[string]bool{}
	var s float64
	for {
		var uncapped float64
		for _, ns := range names {
			if !capped[ns] {
				uncapped += weights[ns]
			}
		}
		s = uncapped / (1 - float64(len(capped))*maxShare)
		grew := false
		for _, ns := range names {
			if w := weights[ns]; !capped[ns] && w > maxShare*s && float64(len(capped)+1)*maxShare < 1 {
				capped[ns], grew = true, true
			}
		}
		if !grew {
			break
		}
	}
	for ns, w := range weights {
		scale[ns] = 1
		if capped[ns] && w > 0 {
			scale[ns] = maxShare * s / w
		}
	}
	return scale
}
