package engine

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/core"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/state"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/simulate"
	"github.com/gantry-dev/gantry/simulator/trace"
)

// AutoscaleConfig runs the real autoscaler loop (autoscaler/core) inside a
// replay, on virtual time, against simulated node groups.
type AutoscaleConfig struct {
	// Config is the autoscaler's configuration (node groups, limits,
	// scale-down, expanders, scan interval).
	Config *config.AutoscalerConfiguration
	// BootDelay is how long a requested node of a regular group takes to
	// register (the burst group's nodes register at once).
	BootDelay time.Duration
	// EveryTick runs the loop at every scan interval while anything is
	// left to happen. By default, ticks at which nothing can change (no
	// event since the last loop, the loop did nothing, and no timer of the
	// configuration expires) are skipped: the outcome is the same.
	EveryTick bool
}

// ScalingEvent is one node added to or removed from a group.
type ScalingEvent struct {
	// Time is the virtual second of the change.
	Time  int64
	Group string
	// Op is "request" (IncreaseSize accepted), "add" (the node registered),
	// "remove" (DeleteNodes) or "withdraw" (a request withdrawn).
	Op   string
	Node string
	// Size is the group's registered nodes after the change.
	Size int
}

// GroupUsage is what one group cost over the replay.
type GroupUsage struct {
	Group        string
	Burst        bool
	Requested    int
	Added        int
	Removed      int
	Peak         int
	NodeSeconds  int64
	PricePerHour float64
}

// NodeHours is the group's billed node-hours.
func (g GroupUsage) NodeHours() float64 { return float64(g.NodeSeconds) / 3600 }

// Cost is node-hours times the price per hour.
func (g GroupUsage) Cost() float64 { return g.NodeHours() * g.PricePerHour }

// ScalingResult is the autoscaler's side of a replay.
type ScalingResult struct {
	Events []ScalingEvent
	Groups []GroupUsage
	// Loops counts RunOnce calls; End is the virtual second billing ends.
	Loops int
	End   int64
}

// NodeHours sums the groups' node-hours.
func (r *ScalingResult) NodeHours() float64 {
	var h float64
	for _, g := range r.Groups {
		h += g.NodeHours()
	}
	return h
}

// Cost sums the groups' costs.
func (r *ScalingResult) Cost() float64 {
	var c float64
	for _, g := range r.Groups {
		c += g.Cost()
	}
	return c
}

// launch is one requested node on its way.
type launch struct {
	group     *simGroup
	requested int64
	cancelled bool
}

// scaler is the replay's simulated cloud and cluster as the autoscaler
// sees them. It implements cloudprovider.CloudProvider and source.Source.
type scaler struct {
	s       *sim
	q       *eventQueue
	pods    []*replayPod
	now     int64
	groups  []*simGroup
	byName  map[string]*simGroup
	nodes   map[string]*corev1.Node
	sorted  []*corev1.Node
	group   map[string]*simGroup // node -> group
	started map[string]int64     // node -> billing start
	launch  []*launch
	actions int
	res     *ScalingResult
}

type simGroup struct {
	sc        *scaler
	cfg       config.NodeGroup
	delay     int64
	live      int
	seq       int
	launching []int // indices into scaler.launch, oldest first
	usage     *GroupUsage
}

var (
	_ cloudprovider.CloudProvider = &scaler{}
	_ cloudprovider.NodeGroup     = &simGroup{}
	_ source.Source               = &scaler{}
)

func newScaler(s *sim, q *eventQueue, pods []*replayPod, ac *AutoscaleConfig) *scaler {
	sc := &scaler{s: s, q: q, pods: pods, byName: map[string]*simGroup{}, nodes: map[string]*corev1.Node{},
		group: map[string]*simGroup{}, started: map[string]int64{}, res: &ScalingResult{}}
	for _, g := range ac.Config.AllGroups() {
		delay := int64(ac.BootDelay / time.Second)
		if g.Burst {
			delay = 0
		}
		sg := &simGroup{sc: sc, cfg: g, delay: delay, usage: &GroupUsage{Group: g.Name, Burst: g.Burst, PricePerHour: g.PricePerHour}}
		sc.groups = append(sc.groups, sg)
		sc.byName[g.Name] = sg
	}
	for _, n := range s.nodes {
		if obj, ok := s.cluster.NodeInfo(n.Name); ok {
			sc.nodes[n.Name] = obj.Node()
		}
	}
	sc.resort()
	return sc
}

func (sc *scaler) resort() {
	sc.sorted = sc.sorted[:0]
	for _, n := range sc.nodes {
		sc.sorted = append(sc.sorted, n)
	}
	sort.Slice(sc.sorted, func(i, j int) bool { return sc.sorted[i].Name < sc.sorted[j].Name })
}

func (sc *scaler) record(g *simGroup, op, node string) {
	sc.res.Events = append(sc.res.Events, ScalingEvent{Time: sc.now, Group: g.cfg.Name, Op: op, Node: node, Size: g.live})
}

// nodeUp registers the node of launch i (an evNodeUp event).
func (sc *scaler) nodeUp(i int) (bool, error) {
	l := sc.launch[i]
	if l.cancelled {
		return false, nil
	}
	g := l.group
	for k, j := range g.launching {
		if j == i {
			g.launching = append(g.launching[:k], g.launching[k+1:]...)
			break
		}
	}
	g.seq++
	name := fmt.Sprintf("%s-%05d", g.cfg.Name, g.seq)
	obj, err := cloudprovider.BuildNode(g.cfg, name)
	if err != nil {
		return false, err
	}
	t := g.cfg.Template
	tn := trace.Node{Name: name, CPUMilli: t.CPU.MilliValue(), MemoryMiB: t.Memory.Value() >> 20, GPUs: t.Device.Count, Model: t.Device.Model}
	sc.s.addNode(tn, obj, state.New(name, t.Zone, cloudprovider.Inventory(t, name)))
	sc.nodes[name] = obj
	sc.group[name] = g
	sc.started[name] = l.requested
	sc.resort()
	g.live++
	g.usage.Added++
	g.usage.Peak = max(g.usage.Peak, g.live)
	sc.record(g, "add", name)
	return true, nil
}

// finish bills the nodes still running at end.
func (sc *scaler) finish(end int64) *ScalingResult {
	for name, g := range sc.group {
		g.usage.NodeSeconds += end - sc.started[name]
	}
	for _, g := range sc.groups {
		// Requested and not registered by the end: billed too.
		for _, j := range g.launching {
			g.usage.NodeSeconds += end - sc.launch[j].requested
		}
	}
	for _, g := range sc.groups {
		sc.res.Groups = append(sc.res.Groups, *g.usage)
	}
	sc.res.End = end
	return sc.res
}

// CloudProvider.

func (sc *scaler) Name() string { return "gantry-sim" }

func (sc *scaler) NodeGroups() []cloudprovider.NodeGroup {
	out := make([]cloudprovider.NodeGroup, len(sc.groups))
	for i, g := range sc.groups {
		out[i] = g
	}
	return out
}

func (sc *scaler) NodeGroupForNode(n *corev1.Node) (cloudprovider.NodeGroup, error) {
	if g, ok := sc.group[n.Name]; ok {
		return g, nil
	}
	return nil, nil
}

func (sc *scaler) Refresh(context.Context) error { return nil }

// NodeGroup.

func (g *simGroup) Id() string               { return g.cfg.Name }
func (g *simGroup) Config() config.NodeGroup { return g.cfg }
func (g *simGroup) TargetSize() (int, error) { return g.live + len(g.launching), nil }

func (g *simGroup) IncreaseSize(_ context.Context, delta int) error {
	if delta <= 0 {
		return fmt.Errorf("size increase must be positive, got %d", delta)
	}
	if t := g.live + len(g.launching); t+delta > g.cfg.MaxSize {
		return fmt.Errorf("size increase too large: %d+%d above max %d", t, delta, g.cfg.MaxSize)
	}
	sc := g.sc
	sc.actions++
	for k := 0; k < delta; k++ {
		i := len(sc.launch)
		sc.launch = append(sc.launch, &launch{group: g, requested: sc.now})
		g.launching = append(g.launching, i)
		g.usage.Requested++
		sc.q.push(event{at: sc.now + g.delay, kind: evNodeUp, pod: i})
		sc.record(g, "request", "")
	}
	return nil
}

func (g *simGroup) DeleteNodes(_ context.Context, nodes []*corev1.Node) error {
	sc := g.sc
	for _, n := range nodes {
		if sc.group[n.Name] != g {
			return fmt.Errorf("node %q is not in group %q", n.Name, g.cfg.Name)
		}
		if k := sc.s.podsOn(n.Name); k > 0 {
			return fmt.Errorf("node %q still runs %d pod(s)", n.Name, k)
		}
	}
	for _, n := range nodes {
		sc.actions++
		sc.s.removeNode(n.Name)
		delete(sc.nodes, n.Name)
		delete(sc.group, n.Name)
		g.usage.NodeSeconds += sc.now - sc.started[n.Name]
		delete(sc.started, n.Name)
		g.live--
		g.usage.Removed++
		sc.record(g, "remove", n.Name)
	}
	sc.resort()
	return nil
}

func (g *simGroup) DecreaseTargetSize(_ context.Context, delta int) error {
	if delta > len(g.launching) {
		return fmt.Errorf("cannot withdraw %d node(s): %d requested", delta, len(g.launching))
	}
	sc := g.sc
	for k := 0; k < delta; k++ {
		sc.actions++
		i := g.launching[len(g.launching)-1]
		g.launching = g.launching[:len(g.launching)-1]
		l := sc.launch[i]
		l.cancelled = true
		g.usage.NodeSeconds += sc.now - l.requested
		sc.record(g, "withdraw", "")
	}
	return nil
}

func (g *simGroup) TemplateNode() (*corev1.Node, error) {
	return cloudprovider.BuildNode(g.cfg, cloudprovider.TemplateName(g.cfg.Name))
}

func (g *simGroup) Nodes() ([]string, error) { return nil, cloudprovider.ErrNotImplemented }

// Source.

func (sc *scaler) Nodes(context.Context) ([]*corev1.Node, error) {
	return append([]*corev1.Node(nil), sc.sorted...), nil
}

// Pods lists the pods that arrived and have not left: bound ones as the
// scheduler bound them, pending ones as gantry-scheduler marks a pod it
// found no node for (PodScheduled False, reason Unschedulable).
func (sc *scaler) Pods(context.Context) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for _, rp := range sc.pods {
		switch {
		case rp.bound != nil && !rp.departed:
			out = append(out, rp.bound)
		case rp.pendingObj != nil:
			out = append(out, rp.pendingObj)
		}
	}
	return out, nil
}

// unschedulable returns the pod as the scheduler leaves a pod it cannot
// place.
func unschedulable(obj *corev1.Pod) *corev1.Pod {
	p := obj.DeepCopy()
	p.Status.Phase = corev1.PodPending
	p.Status.Conditions = []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: "0/N nodes are available",
	}}
	return p
}

func (sc *scaler) PodDisruptionBudgets(context.Context) ([]*policyv1.PodDisruptionBudget, error) {
	return nil, nil
}

// MarkToBeDeleted cordons and taints the node, in the replay's cluster too.
func (sc *scaler) MarkToBeDeleted(_ context.Context, name string) error {
	n, ok := sc.nodes[name]
	if !ok {
		return fmt.Errorf("node %q not found", name)
	}
	n = n.DeepCopy()
	n.Spec.Unschedulable = true
	if !source.HasToBeDeleted(n) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: source.TaintToBeDeleted, Value: "gantry-autoscaler", Effect: corev1.TaintEffectNoSchedule})
	}
	sc.nodes[name] = n
	sc.s.cluster.AddNode(n, name)
	sc.resort()
	return nil
}

// Evict refuses: trace pods have no controller to recreate them, so the
// autoscaler never plans to move them (it only removes empty nodes).
func (sc *scaler) Evict(_ context.Context, p *corev1.Pod) error {
	return fmt.Errorf("pod %s/%s: replay pods cannot be evicted", p.Namespace, p.Name)
}

// newAutoscaler builds the real autoscaler over the scaler, with the
// replay's policy, seed and workload in its simulations.
func newAutoscaler(ctx context.Context, cfg ReplayConfig, sc *scaler, w policy.Workload) (*core.Autoscaler, error) {
	args := &gantryconfig.DeviceShareArgs{
		Policy:                  cfg.Policy,
		WorkloadCoveragePercent: 95,
		Workload:                []policy.Shape(w),
		Seed:                    cfg.Seed,
	}
	return core.New(ctx, core.Options{
		Config: cfg.Autoscale.Config, Provider: sc, Source: sc, Seed: cfg.Seed,
		Scheduler: simulate.Options{Args: args, Parallelism: 1},
	})
}

// ticker schedules the autoscaler's loops on virtual time: at multiples of
// the scan interval, after every change, and when a timer of the
// configuration (unneeded time, delays after add and failure, provision
// time) can expire; ticks at which nothing can change are skipped.
type ticker struct {
	q          *eventQueue
	scan       int64
	follow     []int64
	every      bool
	horizon    int64
	scheduled  map[int64]bool
	lastTick   int64
	dirty      bool
	lastChange int64
}

func newTicker(ac *AutoscaleConfig, q *eventQueue) *ticker {
	c := ac.Config
	secs := func(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }
	t := &ticker{q: q, scan: max(1, secs(c.ScanInterval)), every: ac.EveryTick, scheduled: map[int64]bool{}, lastTick: -1}
	for _, d := range []time.Duration{c.ScaleDown.UnneededTime, c.ScaleDown.DelayAfterAdd, c.ScaleDown.DelayAfterFailure, c.MaxNodeProvisionTime} {
		if d > 0 {
			t.follow = append(t.follow, secs(d))
			t.horizon = max(t.horizon, secs(d))
		}
	}
	t.horizon += 2 * t.scan
	return t
}

// at schedules a loop at the first scan tick at or after at that is later
// than the last loop.
func (t *ticker) at(at int64) {
	at = (at + t.scan - 1) / t.scan * t.scan
	if at <= t.lastTick {
		at = t.lastTick + t.scan
	}
	if !t.scheduled[at] {
		t.scheduled[at] = true
		t.q.push(event{at: at, kind: evTick})
	}
}

// changed notes that the cluster changed at now.
func (t *ticker) changed(now int64) {
	t.dirty, t.lastChange = true, now
	t.at(now)
}

// ran notes a loop at now; acted says whether it changed anything.
func (t *ticker) ran(now int64, acted, _ bool) {
	delete(t.scheduled, now)
	t.lastTick = now
	if acted {
		t.lastChange = now
		t.at(now + t.scan)
	}
	if acted || t.dirty {
		for _, d := range t.follow {
			t.at(now + d)
		}
	}
	t.dirty = false
	if t.every && now+t.scan <= t.lastChange+t.horizon {
		t.at(now + t.scan)
	}
}
