package server

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
	"github.com/gantry-dev/gantry/deviceplugin/podresources"
)

// Steerer answers GetPreferredAllocation. Kubelet's request names no pod,
// only how many slots it needs and which are free, so the Steerer matches
// the request against the scheduler's intents instead:
//
//  1. Intents are read from pods bound to this node by gantry-scheduler
//     whose gantry.dev/allocation names this node, one per container and
//     device kind. Terminal and deleting pods are ignored.
//  2. An intent is pending until kubelet has served its container. With the
//     PodResources API (the normal case) "served" is what kubelet reports
//     right now. Without it, a container recorded in gantry.dev/allocated,
//     or steered by this process within LedgerTTL, counts as served.
//  3. A pending intent matches when its size equals the request size and
//     each device it names is healthy and has at least the intended units
//     among the free slots kubelet offered.
//  4. With the PodResources API the Steerer knows which pod kubelet is
//     admitting: kubelet adds a pod to its active pods just before admitting
//     it and admits pods one at a time, so the pod kubelet lists whose
//     container asking for the resource holds nothing yet is that pod. Only
//     its intents are candidates then, and every other pending intent's
//     devices count as reserved. When no such pod shows (no PodResources
//     API, or a kubelet that behaves otherwise), every pending intent is a
//     candidate and the oldest pod wins (kubelet sorts each batch by
//     creation time), then name, then container order.
//  5. The answer is the lowest free slots on the intended devices. With no
//     match (the pod has no intent, or its device failed or filled up), a
//     share below one device goes to the best-fitting single device and
//     whole devices to fully free ones, sparing the room other pending
//     intents expect where possible (see fallback).
//
// Limits, stated plainly: the answer is a hint and kubelet may ignore it
// (TopologyManager alignment, another pod admitted in between). Without the
// PodResources API, two pending pods of the same size on different devices
// are indistinguishable and may swap devices. Neither case can over-commit a
// device, since kubelet never hands out a slot twice and a device has only
// UnitsPerDevice slots, nor put a share on two devices, since every answer is
// on one device. The reconcile package records what kubelet really gave and
// that record, not the intent, is what the scheduler counts. A swap between
// two pods of the same size leaves every device's total unchanged; it can
// only break the scheduler's choice of which replica shares a device with
// which. Anyone who can write a pod's annotations can steer that pod among
// free slots, exactly as the scheduler could, and nothing more.
type Steerer struct {
	node         string
	kind         device.Kind
	pods         corelisters.PodLister
	podResources podresources.Lister
	listTimeout  time.Duration
	clock        clock.PassiveClock
	ledgerTTL    time.Duration

	mu     sync.Mutex
	ledger map[string]time.Time
	// decoded caches each pod's intents by resource version, so that a
	// request does not decode every pod's annotation again.
	decoded map[types.UID]decodedIntents
}

type decodedIntents struct {
	resourceVersion string
	intents         []Intent
}

// SteererConfig configures a Steerer.
type SteererConfig struct {
	Node string
	Kind device.Kind
	// Pods lists pods; only those bound to Node are considered, so an
	// informer filtered on spec.nodeName is enough.
	Pods corelisters.PodLister
	// PodResources is kubelet's PodResources API; optional but strongly
	// recommended (see rule 2 and 4).
	PodResources podresources.Lister
	// ListTimeout bounds the PodResources call; on timeout the Steerer
	// falls back to annotations and its ledger. Default 1s.
	ListTimeout time.Duration
	Clock       clock.PassiveClock
	// LedgerTTL is how long a steered intent counts as served when the
	// PodResources API is unavailable. Default 2m.
	LedgerTTL time.Duration
}

// NewSteerer returns a Steerer.
func NewSteerer(cfg SteererConfig) *Steerer {
	s := &Steerer{node: cfg.Node, kind: cfg.Kind, pods: cfg.Pods, podResources: cfg.PodResources,
		listTimeout: cfg.ListTimeout, clock: cfg.Clock, ledgerTTL: cfg.LedgerTTL, ledger: map[string]time.Time{},
		decoded: map[types.UID]decodedIntents{}}
	if s.listTimeout == 0 {
		s.listTimeout = time.Second
	}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	if s.ledgerTTL == 0 {
		s.ledgerTTL = 2 * time.Minute
	}
	return s
}

// Decision is a GetPreferredAllocation answer for one container.
type Decision struct {
	IDs []string
	// Source is metrics.SteerIntent, SteerFallback or SteerNone.
	Source string
	// Intent is the matched intent, for SteerIntent.
	Intent *Intent
}

// Prefer chooses size slots among available for one container. A nil
// Steerer only applies the fallback.
func (s *Steerer) Prefer(ctx context.Context, inv device.Inventory, available, mustInclude []string, size int) Decision {
	free := groupFree(available, nil)
	healthy := device.Inventory{}
	for _, d := range inv.Devices {
		if d.Healthy() && len(free[d.ID]) > 0 {
			healthy.Devices = append(healthy.Devices, d)
		}
	}
	if len(mustInclude) > 0 {
		return preferWith(healthy, available, mustInclude, size)
	}
	var reserved map[string]int
	if s != nil {
		var in *Intent
		in, reserved = s.match(ctx, healthy, free, size)
		if in != nil {
			var ids []string
			for _, sh := range in.Shares {
				ids = append(ids, free.take(sh.ID, sh.Units)...)
			}
			s.remember(in)
			return Decision{IDs: ids, Source: metrics.SteerIntent, Intent: in}
		}
	}
	if ids := fallback(healthy, free, reserved, size); ids != nil {
		return Decision{IDs: ids, Source: metrics.SteerFallback}
	}
	return Decision{Source: metrics.SteerNone}
}

// preferWith handles kubelet's must-include IDs (devices reused from init
// containers, which Gantry requests never have): it keeps them and fills up
// from the same device.
func preferWith(inv device.Inventory, available, mustInclude []string, size int) Decision {
	if len(mustInclude) >= size {
		return Decision{IDs: mustInclude[:size], Source: metrics.SteerFallback}
	}
	keep := map[string]bool{}
	for _, id := range mustInclude {
		keep[id] = true
	}
	dev, _, err := contract.ParseSlotID(mustInclude[0])
	free := groupFree(available, keep)
	if err != nil || len(free[dev]) < size-len(mustInclude) {
		return Decision{IDs: mustInclude, Source: metrics.SteerNone}
	}
	return Decision{IDs: append(append([]string(nil), mustInclude...), free.take(dev, size-len(mustInclude))...), Source: metrics.SteerFallback}
}

// match returns the intent to steer to, if any, and the units other
// pending intents still expect on each device (for the fallback to spare).
func (s *Steerer) match(ctx context.Context, inv device.Inventory, free freeSlots, size int) (*Intent, map[string]int) {
	logger := klog.FromContext(ctx)
	if s.pods == nil {
		return nil, nil
	}
	pods, err := s.pods.List(labels.Everything())
	if err != nil {
		logger.Error(err, "Listing pods for steering failed; using the fallback")
		return nil, nil
	}
	snap, live := s.snapshot(ctx)
	res := contract.ResourceFor(s.kind)
	admitting := map[types.NamespacedName]bool{}
	var pending []*Intent
	for _, pod := range pods {
		if live && snap.Admitting(pod, res) {
			admitting[types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}] = true
		}
		intents := s.intentsOf(pod)
		for i := range intents {
			in := &intents[i]
			if live {
				if snap.Holds(in.Pod, in.Container, res) {
					continue
				}
			} else if recorded(pod, in.Container, s.kind) || s.steeredRecently(in) {
				continue
			}
			pending = append(pending, in)
		}
	}
	var best *Intent
	reserved := map[string]int{}
	for _, in := range pending {
		in.InAdmission = admitting[in.Pod]
		if len(admitting) > 0 && !in.InAdmission {
			// Kubelet is admitting someone else: this intent's room is
			// promised, not free.
			for _, sh := range in.Shares {
				reserved[sh.ID] += sh.Units
			}
			continue
		}
		if in.Size != size || !fits(in, inv, free) {
			continue
		}
		if best == nil || in.before(best) {
			best = in
		}
	}
	if best == nil && len(admitting) == 0 {
		for _, in := range pending {
			for _, sh := range in.Shares {
				reserved[sh.ID] += sh.Units
			}
		}
	}
	return best, reserved
}

// intentsOf returns a fresh copy of the pod's intents, decoding its
// annotation only when the pod changed.
func (s *Steerer) intentsOf(pod *corev1.Pod) []Intent {
	if pod.ResourceVersion == "" {
		return podIntents(pod, s.node, s.kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.decoded[pod.UID]
	if !ok || c.resourceVersion != pod.ResourceVersion {
		c = decodedIntents{resourceVersion: pod.ResourceVersion, intents: podIntents(pod, s.node, s.kind)}
		if len(s.decoded) > 4096 {
			clear(s.decoded)
		}
		s.decoded[pod.UID] = c
	}
	return append([]Intent(nil), c.intents...)
}

func fits(in *Intent, inv device.Inventory, free freeSlots) bool {
	for _, sh := range in.Shares {
		if _, ok := inv.ByID(sh.ID); !ok || len(free[sh.ID]) < sh.Units {
			return false
		}
	}
	return true
}

func (s *Steerer) snapshot(ctx context.Context) (podresources.Snapshot, bool) {
	if s.podResources == nil {
		return podresources.Snapshot{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, s.listTimeout)
	defer cancel()
	resp, err := s.podResources.List(ctx)
	if err != nil {
		klog.FromContext(ctx).Error(err, "PodResources unavailable; steering from annotations only")
		return podresources.Snapshot{}, false
	}
	return podresources.NewSnapshot(resp), true
}

func (s *Steerer) remember(in *Intent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for k, t := range s.ledger {
		if now.Sub(t) >= s.ledgerTTL {
			delete(s.ledger, k)
		}
	}
	s.ledger[in.key()] = now
}

func (s *Steerer) steeredRecently(in *Intent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.ledger[in.key()]
	return ok && s.clock.Now().Sub(t) < s.ledgerTTL
}
