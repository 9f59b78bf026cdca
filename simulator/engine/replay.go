package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/trace"
	"github.com/gantry-dev/gantry/simulator/workload"
)

// Autoscaler is the replay's injection point for a cluster autoscaler: the
// replay calls RunOnce at every virtual instant at which pods are left
// pending, after it has tried to place them, with the virtual time.
type Autoscaler interface {
	RunOnce(ctx context.Context, now time.Time) error
}

// Epoch is virtual time zero of a replay: trace second s is Epoch + s.
var Epoch = time.Unix(0, 0).UTC()

// ReplayConfig is one replay run.
type ReplayConfig struct {
	Trace  trace.Trace
	Policy policy.Type
	Seed   int64
	// Coverage is the target workload's popularity cut (0: 95 %).
	Coverage float64
	// Autoscaler, when set, runs whenever pods are pending (nil: none).
	Autoscaler Autoscaler
	// Autoscale, when set, runs the real autoscaler on virtual time
	// against simulated node groups (instead of Autoscaler).
	Autoscale *AutoscaleConfig
	// LearnedWorkload: as Config.LearnedWorkload.
	LearnedWorkload bool
	// Mode: as Config.Mode (DRA modes without Autoscale only).
	Mode     Mode
	Progress func(done, total int)
}

// PendingStats summarises how long pods waited for a node, in seconds of
// virtual time.
type PendingStats struct {
	Mean          float64
	P50, P95, Max int64
	// Waited counts the pods that waited at all.
	Waited int
}

// ReplayResult is the outcome of a replay.
type ReplayResult struct {
	Policy        policy.Type
	Seed          int64
	Nodes         int
	CapacityMilli int64
	Pods          int
	Bound         int
	// NeverBound counts pods still pending when the trace ended.
	NeverBound int
	Pending    PendingStats
	// PeakAllocatedMilli is the most milli-GPU allocated at once.
	PeakAllocatedMilli int64
	Placements         []Placement
	// Scaling is the autoscaler's record (nil without Autoscale).
	Scaling *ScalingResult
	// LearnedWorkload is ReplayConfig.LearnedWorkload.
	LearnedWorkload bool
	// Mode is the mode the pods were placed in.
	Mode Mode
	Wall time.Duration
}

type replayPod struct {
	idx      int
	p        trace.Pod
	obj      *corev1.Pod
	bound    *corev1.Pod
	boundAt  int64
	duration int64
	departed bool
	// pendingObj is the pod as the autoscaler sees it while it waits.
	pendingObj *corev1.Pod
}

// replay event kinds, in the order they apply at one instant.
const (
	evNodeUp = iota
	evDepart
	evArrive
	evTick
)

type event struct {
	at   int64
	kind int
	pod  int
}

// RunReplay replays the trace in virtual time: each pod arrives at its
// creation time and, once bound, runs for deletion - creation seconds.
// Pods that fit nowhere wait in a FIFO queue that is retried whenever a pod
// departs or a node registers. Everything is ordered (time, node
// registrations, departures, arrivals, autoscaler loops, pod order), so a
// replay is deterministic.
//
// With cfg.Autoscale, the real autoscaler loop (autoscaler/core) runs at
// every scan interval of virtual time against simulated node groups: its
// scale-ups register nodes after the boot delay, its scale-downs remove
// them.
func RunReplay(ctx context.Context, cfg ReplayConfig) (*ReplayResult, error) {
	start := time.Now()
	t := cfg.Trace
	cov := cfg.Coverage
	if cov <= 0 {
		cov = workload.DefaultCoverage
	}
	if cfg.Autoscale != nil && cfg.Autoscaler != nil {
		return nil, fmt.Errorf("a replay takes Autoscale or Autoscaler, not both")
	}
	if err := cfg.Mode.check(cfg.LearnedWorkload); err != nil {
		return nil, err
	}
	if cfg.Mode.IsDRA() && (cfg.Autoscale != nil || cfg.Autoscaler != nil) {
		return nil, fmt.Errorf("mode %s: the autoscaler simulates device-plugin nodes only; replay with an autoscaler in mode %s", cfg.Mode, DevicePlugin)
	}
	pods := make([]*replayPod, len(t.Pods))
	var events []event
	for i, p := range t.Pods {
		if !p.HasTimes {
			return nil, fmt.Errorf("pod %s has no creation/deletion time: a replay needs them", p.Name)
		}
		pods[i] = &replayPod{idx: i, p: p, obj: PodObject(p), duration: max(0, p.Deletion-p.Creation)}
		events = append(events, event{at: p.Creation, kind: evArrive, pod: i})
	}
	keys := workload.NewProtocol(cfg.Seed).NodePrefixes(t.Nodes)
	w := WorkloadOf(workload.Shapes(t.Pods, cov))
	var opts []simOption
	if cfg.LearnedWorkload {
		opts = append(opts, learnWorkload)
	}
	s, err := newSim(ctx, t.Nodes, keys, cfg.Policy, cfg.Seed, w, cfg.Mode, opts...)
	if err != nil {
		return nil, err
	}
	res := &ReplayResult{Policy: cfg.Policy, Seed: cfg.Seed, LearnedWorkload: cfg.LearnedWorkload, Mode: cfg.Mode.orDefault(), Nodes: len(t.Nodes), CapacityMilli: s.capacityMilli, Pods: len(pods)}
	q := &eventQueue{}
	for _, e := range events {
		q.push(e)
	}
	var (
		sc       *scaler
		as       Autoscaler = cfg.Autoscaler
		ticks    *ticker
		pendOnly bool // legacy hook: loops only when pods are pending
	)
	if cfg.Autoscale != nil {
		sc = newScaler(s, q, pods, cfg.Autoscale)
		a, err := newAutoscaler(ctx, cfg, sc, w)
		if err != nil {
			return nil, err
		}
		as = a
		ticks = newTicker(cfg.Autoscale, q)
	} else {
		pendOnly = as != nil
	}
	var pending []*replayPod
	placements := make([]Placement, len(pods))
	done := 0

	try := func(rp *replayPod, now int64) (bool, error) {
		pl, b, ok, err := s.schedule(ctx, rp.p, rp.obj)
		if err != nil || !ok {
			return false, err
		}
		rp.bound, rp.boundAt, rp.pendingObj = b, now, nil
		placements[rp.idx] = Placement{Pod: rp.p.Name, Node: pl.node, Devices: pl.devices, Model: pl.model, Time: now}
		res.Bound++
		res.PeakAllocatedMilli = max(res.PeakAllocatedMilli, s.allocatedMilli)
		res.CapacityMilli = max(res.CapacityMilli, s.capacityMilli)
		q.push(event{at: now + rp.duration, kind: evDepart, pod: rp.idx})
		return true, nil
	}
	var last int64
	for q.len() > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		now := q.peek().at
		last = now
		freed, changed, tick := false, false, false
		for q.len() > 0 && q.peek().at == now {
			e := q.pop()
			switch e.kind {
			case evNodeUp:
				sc.now = now
				up, err := sc.nodeUp(e.pod)
				if err != nil {
					return nil, err
				}
				res.CapacityMilli = max(res.CapacityMilli, s.capacityMilli)
				freed = freed || up
				changed = changed || up
			case evDepart:
				rp := pods[e.pod]
				if err := s.unbind(rp.p, rp.bound); err != nil {
					return nil, err
				}
				rp.departed = true
				freed, changed = true, true
			case evArrive:
				rp := pods[e.pod]
				ok, err := try(rp, now)
				if err != nil {
					return nil, err
				}
				if !ok {
					pending = append(pending, rp)
					if sc != nil {
						rp.pendingObj = unschedulable(rp.obj)
					}
				}
				changed = true
				done++
				if cfg.Progress != nil {
					cfg.Progress(done, len(pods))
				}
			case evTick:
				tick = true
			}
		}
		if freed && len(pending) > 0 {
			// Retry the queue in arrival order; a shape that failed in this
			// round fails again (the cluster only fills up within a round).
			failed := map[string]bool{}
			kept := pending[:0]
			for _, rp := range pending {
				k := shapeKey(rp.p)
				if !failed[k] {
					ok, err := try(rp, now)
					if err != nil {
						return nil, err
					}
					if ok {
						continue
					}
					failed[k] = true
				}
				kept = append(kept, rp)
			}
			pending = kept
		}
		switch {
		case pendOnly && len(pending) > 0:
			if err := as.RunOnce(ctx, Epoch.Add(time.Duration(now)*time.Second)); err != nil {
				return nil, fmt.Errorf("autoscaler at t=%ds: %w", now, err)
			}
		case ticks != nil:
			if changed {
				ticks.changed(now)
			}
			if tick {
				sc.now = now
				before := sc.actions
				if err := as.RunOnce(ctx, Epoch.Add(time.Duration(now)*time.Second)); err != nil {
					return nil, fmt.Errorf("autoscaler at t=%ds: %w", now, err)
				}
				sc.res.Loops++
				ticks.ran(now, sc.actions != before, q.len() > 0)
			}
		}
	}
	if sc != nil {
		res.Scaling = sc.finish(last)
	}
	var waits []int64
	var sum int64
	for i, rp := range pods {
		if rp.bound == nil {
			res.NeverBound++
			placements[i] = Placement{Pod: rp.p.Name, Time: -1}
			continue
		}
		w := rp.boundAt - rp.p.Creation
		waits = append(waits, w)
		sum += w
		if w > 0 {
			res.Pending.Waited++
		}
	}
	if len(waits) > 0 {
		slices.Sort(waits)
		res.Pending.Mean = float64(sum) / float64(len(waits))
		res.Pending.P50 = percentile(waits, 50)
		res.Pending.P95 = percentile(waits, 95)
		res.Pending.Max = waits[len(waits)-1]
	}
	res.Placements = placements
	res.Wall = time.Since(start)
	return res, nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func shapeKey(p trace.Pod) string {
	return fmt.Sprint(p.CPUMilli, p.MemoryMiB, p.NumGPU, p.GPUMilli, p.GPUSpec)
}

// eventQueue is a binary heap ordered by (at, kind, pod).
type eventQueue struct{ h []event }

func (q *eventQueue) len() int    { return len(q.h) }
func (q *eventQueue) peek() event { return q.h[0] }
func less(a, b event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.pod < b.pod
}
func (q *eventQueue) push(e event) {
	q.h = append(q.h, e)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(q.h[i], q.h[p]) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}
func (q *eventQueue) pop() event {
	top := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h = q.h[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && less(q.h[l], q.h[m]) {
			m = l
		}
		if r < n && less(q.h[r], q.h[m]) {
			m = r
		}
		if m == i {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}

var _ = sort.Ints
