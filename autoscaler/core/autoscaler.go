package core

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"k8s.io/client-go/tools/record"
	k8smetrics "k8s.io/component-base/metrics"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/estimator"
	"github.com/gantry-dev/gantry/autoscaler/expander"
	"github.com/gantry-dev/gantry/autoscaler/metrics"
	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/autoscaler/status"
	"github.com/gantry-dev/gantry/scheduler/dra"
	"github.com/gantry-dev/gantry/scheduler/simulate"
)

// Event reasons.
const (
	EventTriggeredScaleUp  = "TriggeredScaleUp"
	EventNotTriggerScaleUp = "NotTriggerScaleUp"
	EventScaleDown         = "ScaleDown"
	EventScaleDownFailed   = "ScaleDownFailed"
)

// Drain timings: how often refused evictions are retried and how often
// evicted pods are checked for termination.
const (
	defaultEvictionRetry   = 5 * time.Second
	defaultTerminationPoll = time.Second
)

// Annotations that keep a pod (and so its node) in place.
const (
	AnnotationSafeToEvict       = "cluster-autoscaler.kubernetes.io/safe-to-evict"
	AnnotationGantrySafeToEvict = "gantry.dev/safe-to-evict"
)

// Options wire an Autoscaler.
type Options struct {
	Config   *config.AutoscalerConfiguration
	Provider cloudprovider.CloudProvider
	Source   source.Source
	// Recorder receives events; a discarding one when nil.
	Recorder record.EventRecorder
	// Registry receives the metrics; a fresh one when nil.
	Registry k8smetrics.KubeRegistry
	// Status is written at the end of each loop when set.
	Status status.Writer
	// Snapshot is the empty snapshot every simulation starts from; the
	// real plugin (simulator.ShareSnapshot with Scheduler, hinted on the
	// cluster, full cycles in estimates; simulating DRA claims when a
	// group is in DRA mode) when nil.
	Snapshot simulator.Snapshot
	// Scheduler configures the real plugin's simulations; Parallelism
	// defaults to GOMAXPROCS.
	Scheduler simulate.Options
	// Seed makes the random expander reproducible.
	Seed int64
}

// Autoscaler is the loop and the state it keeps between runs.
type Autoscaler struct {
	cfg *config.AutoscalerConfiguration
	// dra is set when a group is in DRA mode: every loop reads the DRA
	// objects.
	dra       bool
	provider  cloudprovider.CloudProvider
	source    source.Source
	recorder  record.EventRecorder
	metrics   *metrics.Metrics
	status    status.Writer
	base      simulator.Snapshot
	snap      *snapshotCache
	expander  expander.Strategy
	estimator *estimator.BinpackingEstimator
	schedules []schedule

	requests map[string]*scaleUpRequest
	backoff  *backoff
	unneeded map[string]time.Time

	// restored is set once the first loop rebuilt the requests of an
	// earlier process from the provider's target sizes.
	restored bool
	// unreadySince is when each group node never seen ready was first
	// seen; seenReady the nodes seen ready; removedUnready the nodes
	// deleted for never becoming ready, until they are gone.
	unreadySince   map[string]time.Time
	seenReady      map[string]bool
	removedUnready map[string]bool

	lastScaleUp          time.Time
	lastScaleDown        time.Time
	lastScaleDownFailure time.Time
	// leftoversUnmarked is set once the to-be-deleted taints of an
	// earlier run are gone.
	leftoversUnmarked bool

	evictionRetry, terminationPoll time.Duration
}

// New builds an Autoscaler.
func New(ctx context.Context, o Options) (*Autoscaler, error) {
	if o.Config == nil || o.Provider == nil || o.Source == nil {
		return nil, fmt.Errorf("config, provider and source are required")
	}
	if o.Recorder == nil {
		o.Recorder = &record.FakeRecorder{}
	}
	if o.Registry == nil {
		o.Registry = k8smetrics.NewKubeRegistry()
	}
	estimateBase := o.Snapshot
	if o.Snapshot == nil {
		if o.Scheduler.Parallelism == 0 {
			// Full cycles over the cluster filter its nodes on all CPUs.
			o.Scheduler.Parallelism = runtime.GOMAXPROCS(0)
		}
		if o.Config.DRA() && o.Scheduler.DRA == nil {
			// Each loop fills the snapshot with the cluster's DRA objects.
			o.Scheduler.DRA = dra.NewMemory()
		}
		s, err := simulator.NewShareSnapshot(ctx, o.Scheduler)
		if err != nil {
			return nil, err
		}
		o.Snapshot = s
		// Estimates run on a few template nodes: full cycles, every
		// feasible node scored by the plugin.
		full := *s
		full.HintNodes = 0
		estimateBase = &full
	}
	exp, err := expander.NewChain(o.Config.Expanders, o.Seed)
	if err != nil {
		return nil, err
	}
	scheds, err := parseSchedules(o.Config.ScheduledMinimums)
	if err != nil {
		return nil, err
	}
	return &Autoscaler{
		cfg: o.Config, dra: o.Config.DRA(), provider: o.Provider, source: o.Source, recorder: o.Recorder,
		metrics: metrics.New(o.Registry), status: o.Status, base: o.Snapshot, snap: newSnapshotCache(o.Snapshot), expander: exp,
		estimator: &estimator.BinpackingEstimator{Base: estimateBase, MaxDuration: o.Config.MaxEstimationTime},
		schedules: scheds,
		requests:  map[string]*scaleUpRequest{},
		backoff:   &backoff{cfg: o.Config.Backoff, groups: map[string]*backoffState{}},
		unneeded:  map[string]time.Time{},

		unreadySince: map[string]time.Time{}, seenReady: map[string]bool{}, removedUnready: map[string]bool{},

		evictionRetry: defaultEvictionRetry, terminationPoll: defaultTerminationPoll,
	}, nil
}

// RunOnce runs one loop at time now.
func (a *Autoscaler) RunOnce(ctx context.Context, now time.Time) error {
	start := time.Now()
	defer func() { a.metrics.LoopDuration.WithLabelValues("main").Observe(time.Since(start).Seconds()) }()
	if err := a.provider.Refresh(ctx); err != nil {
		return fmt.Errorf("refreshing cloud provider: %w", err)
	}
	if !a.leftoversUnmarked {
		done, err := a.unmarkLeftovers(ctx)
		if err != nil {
			return err
		}
		a.leftoversUnmarked = done
	}
	w, err := a.observe(ctx, now)
	if err != nil {
		return err
	}
	scaledUp, err := a.scaleUp(ctx, w, now)
	if err != nil {
		return err
	}
	t := time.Now()
	if err := a.scaleDown(ctx, w, now, scaledUp); err != nil {
		return err
	}
	a.metrics.LoopDuration.WithLabelValues("scaleDown").Observe(time.Since(t).Seconds())
	return a.writeStatus(ctx, w, now)
}

func (a *Autoscaler) writeStatus(ctx context.Context, w *world, now time.Time) error {
	s := status.Status{Time: now, UnschedulablePods: w.unschedulable, LastScaleUp: a.lastScaleUp, LastScaleDown: a.lastScaleDown}
	for _, g := range w.groups {
		gs := status.GroupStatus{Name: g.name, Target: g.target, Registered: g.registered, Ready: g.ready, Upcoming: g.upcoming, MinSize: g.min, MaxSize: g.cfg.MaxSize}
		if until, ok := a.backoff.until(g.name, now); ok {
			gs.BackedOffUntil = &until
		}
		a.metrics.UpcomingNodes.WithLabelValues(g.name).Set(float64(g.upcoming))
		s.NodeGroups = append(s.NodeGroups, gs)
	}
	for n := range a.unneeded {
		s.UnneededNodes = append(s.UnneededNodes, n)
	}
	a.metrics.UnneededNodes.Set(float64(len(a.unneeded)))
	a.metrics.UnschedulablePods.Set(float64(w.unschedulable))
	if a.status == nil {
		return nil
	}
	return a.status.Write(ctx, s)
}
