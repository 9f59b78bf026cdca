package core

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/estimator"
	"github.com/gantry-dev/gantry/autoscaler/expander"
	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/autoscaler/utils/podutil"
)

// scaleUp raises groups below their (scheduled) minimum, then adds nodes
// for the pending pods that fit nowhere. It reports whether it asked for
// any node.
func (a *Autoscaler) scaleUp(ctx context.Context, w *world, now time.Time) (bool, error) {
	logger := klog.FromContext(ctx)
	scaled := false
	for _, g := range w.groups {
		if g.target >= g.min || a.backoff.backedOff(g.name, now) {
			continue
		}
		delta := g.min - g.target
		// The cluster-wide limits hold for minimums too; headroom counts
		// the nodes the groups before this one just asked for.
		limitNodes, limitGPUs := a.headroom(w)
		delta = min(delta, limitNodes)
		if g.devices > 0 {
			delta = min(delta, limitGPUs/g.devices)
		}
		if delta <= 0 {
			logger.Info("Not raising node group to its minimum: cluster-wide limit reached", "nodeGroup", g.name, "target", g.target, "min", g.min)
			continue
		}
		logger.Info("Raising node group to its minimum", "nodeGroup", g.name, "from", g.target, "to", g.target+delta, "min", g.min)
		if a.increase(ctx, w, g, delta, now) {
			scaled = true
		}
	}
	if len(w.pending) == 0 {
		return scaled, nil
	}
	t := time.Now()
	unschedulable, err := a.filterSchedulable(ctx, w)
	if err != nil {
		return scaled, err
	}
	a.metrics.LoopDuration.WithLabelValues("filterOutSchedulable").Observe(time.Since(t).Seconds())
	w.unschedulable = len(unschedulable)
	if len(unschedulable) == 0 {
		return scaled, nil
	}
	t = time.Now()
	defer func() { a.metrics.LoopDuration.WithLabelValues("scaleUp").Observe(time.Since(t).Seconds()) }()

	remaining := unschedulable
	// reasons[pod][group] says why a group cannot help a pod.
	reasons := map[string]map[string]string{}
	note := func(pod, group, why string) {
		if reasons[pod] == nil {
			reasons[pod] = map[string]string{}
		}
		reasons[pod][group] = why
	}
	for round := 0; round < len(w.groups)+1 && len(remaining) > 0; round++ {
		options, err := a.options(ctx, w, remaining, now, note)
		if err != nil {
			return scaled, err
		}
		if len(options) == 0 {
			break
		}
		best := a.expander.BestOption(options)
		plan := a.balance(w, best, options, now)
		ok := false
		for _, p := range plan {
			if a.increase(ctx, w, p.group, p.delta, now) {
				ok = true
			}
		}
		if !ok {
			continue // the groups are backed off now; the next round falls back
		}
		scaled = true
		helped := map[string]bool{}
		for _, p := range best.Pods {
			helped[podutil.Key(p)] = true
		}
		var parts []string
		for _, p := range plan {
			parts = append(parts, fmt.Sprintf("{%s %d->%d (max: %d)}", p.group.name, p.group.target-p.delta, p.group.target, p.group.cfg.MaxSize))
		}
		var rest []*corev1.Pod
		for _, p := range remaining {
			if helped[podutil.Key(p)] {
				a.recorder.Eventf(p, corev1.EventTypeNormal, EventTriggeredScaleUp, "pod triggered scale-up: [%s]", strings.Join(parts, " "))
			} else {
				rest = append(rest, p)
			}
		}
		remaining = rest
	}
	for _, p := range remaining {
		a.recorder.Eventf(p, corev1.EventTypeNormal, EventNotTriggerScaleUp, "pod didn't trigger scale-up: %s", explain(reasons[podutil.Key(p)]))
	}
	return scaled, nil
}

func explain(r map[string]string) string {
	if len(r) == 0 {
		return "no node group can help"
	}
	var parts []string
	for g, why := range r {
		parts = append(parts, g+": "+why)
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d node group(s) cannot help: %s", len(parts), strings.Join(parts, "; "))
}

// filterSchedulable returns the pending pods that fit neither the ready
// nodes nor the upcoming ones, placing them largest first with the real
// scheduler on a fork with a template node per upcoming node (CA's
// filter-out-schedulable: it stops runaway growth while nodes start).
func (a *Autoscaler) filterSchedulable(ctx context.Context, w *world) ([]*corev1.Pod, error) {
	var upcoming strings.Builder
	for _, g := range w.groups {
		if g.upcoming > 0 {
			fp, err := templateFingerprint(g)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&upcoming, "%s:%d:%s;", g.name, g.upcoming, fp)
		}
	}
	if out, ok := a.snap.filtered(w.generation, upcoming.String(), w.pending); ok {
		return out, nil
	}
	// The pods are placed on the loop's snapshot itself and taken back
	// afterwards, so the scheduler plugin's per-node state, warm from the
	// last loops, is reused; a fork when that cannot be done exactly (the
	// claims a DRA simulation allocates are not taken back).
	_, simulatesClaims := simulator.AsDRA(w.snapshot)
	inPlace := a.snap.snap == w.snapshot && !simulatesClaims
	for _, p := range w.pending {
		if p.UID == "" {
			inPlace = false // the framework removes pods by UID
		}
	}
	var added []string
	for _, g := range w.groups {
		for i := 0; i < g.upcoming; i++ {
			name := fmt.Sprintf("upcoming-%s-%d", g.name, i)
			if _, clash := a.snap.nodes[name]; clash {
				inPlace = false
			}
			added = append(added, name)
		}
	}
	fork := w.snapshot
	if !inPlace {
		var err error
		if fork, err = w.snapshot.Fork(ctx); err != nil {
			return nil, err
		}
	}
	var placed []*corev1.Pod
	if inPlace {
		defer func() {
			if err := a.undo(ctx, w, added, placed); err != nil {
				klog.FromContext(ctx).Error(err, "Taking back simulated pods; rebuilding the snapshot")
			}
		}()
	}
	for _, g := range w.groups {
		for i := 0; i < g.upcoming; i++ {
			n, err := templateNodeInfo(g, fmt.Sprintf("upcoming-%s-%d", g.name, i))
			if err != nil {
				return nil, err
			}
			simulator.AddNodeInfo(fork, n)
		}
	}
	pods := append([]*corev1.Pod(nil), w.pending...)
	podutil.SortLargestFirstBy(pods, w.units)
	var out []*corev1.Pod
	unfit := map[string]bool{}
	for _, p := range pods {
		class := podutil.EquivalenceKey(p)
		if unfit[class] {
			out = append(out, p)
			continue
		}
		node, bound, _, err := fork.Schedule(ctx, p)
		if err != nil {
			// An internal error says nothing about whether the pod fits:
			// no scale-up on it.
			return nil, fmt.Errorf("simulating pod %s: %w", podutil.Key(p), err)
		}
		if node == "" {
			unfit[class] = true
			out = append(out, p)
			continue
		}
		placed = append(placed, bound)
	}
	a.snap.storeFiltered(w.generation, upcoming.String(), w.pending, out)
	return out, nil
}

// templateFingerprint identifies what a group's template node is, the
// ResourceSlices of a DRA-mode group included.
func templateFingerprint(g *groupState) (string, error) {
	n, err := templateNodeInfo(g, cloudprovider.TemplateName(g.name))
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// templateNodeInfo returns a node of g named name as it would register:
// the provider's template node renamed, and in DRA mode the ResourceSlice
// its agent would publish for that name.
func templateNodeInfo(g *groupState, name string) (simulator.NodeInfo, error) {
	n, err := g.group.TemplateNode()
	if err != nil {
		return simulator.NodeInfo{}, fmt.Errorf("node group %q: template: %w", g.name, err)
	}
	n = n.DeepCopy()
	renameNode(n, name)
	return simulator.NodeInfo{Node: n, Slices: cloudprovider.TemplateSlices(g.group.Config(), name)}, nil
}

// undo takes back what filterSchedulable placed on the loop's snapshot:
// the template nodes of upcoming nodes (with their pods) and the pods
// bound to real nodes. On failure the snapshot is built again.
func (a *Autoscaler) undo(ctx context.Context, w *world, added []string, placed []*corev1.Pod) error {
	isAdded := map[string]bool{}
	for _, n := range added {
		isAdded[n] = true
	}
	var failed error
	for _, p := range placed {
		if isAdded[p.Spec.NodeName] {
			continue
		}
		if err := w.snapshot.RemovePod(p); err != nil && failed == nil {
			failed = err
		}
	}
	for _, n := range added {
		w.snapshot.RemoveNode(n)
	}
	if failed == nil {
		return nil
	}
	a.snap.reset()
	snap, err := a.snap.sync(ctx, w.nodes, w.ready, w.pods)
	if err != nil {
		return err
	}
	a.snap.syncDRA(w.dra, w.ready)
	w.snapshot, w.generation = snap, a.snap.gen
	return failed
}

// renameNode makes a template node look like a node named name.
func renameNode(n *corev1.Node, name string) {
	n.Name = name
	n.Labels[corev1.LabelHostname] = name
}

// options estimates every group that may grow for pods.
func (a *Autoscaler) options(ctx context.Context, w *world, pods []*corev1.Pod, now time.Time, note func(pod, group, why string)) ([]expander.Option, error) {
	type job struct {
		g    *groupState
		room int
		fp   string
		res  estimator.Result
		hit  bool
		err  error
	}
	var jobs []*job
	limitNodes, limitGPUs := a.headroom(w)
	for _, g := range w.groups {
		room := g.cfg.MaxSize - g.target
		if g.devices > 0 {
			room = min(room, limitGPUs/g.devices)
		}
		room = min(room, limitNodes)
		why := ""
		switch {
		case a.backoff.backedOff(g.name, now):
			why = "node group is backed off after a failed scale-up"
		case g.target >= g.cfg.MaxSize:
			why = "max node group size reached"
		case room <= 0:
			why = "cluster-wide limit reached"
		}
		if why != "" {
			for _, p := range pods {
				note(podutil.Key(p), g.name, why)
			}
			continue
		}
		fp, err := templateFingerprint(g)
		if err != nil {
			return nil, err
		}
		if w.dra != nil {
			// The estimate reads the pods' claims.
			fp += "\x00" + w.dra.fingerprint
		}
		j := &job{g: g, room: room, fp: g.name + "\x00" + fp}
		j.res, j.hit = a.snap.estimated(j.fp, room, pods)
		jobs = append(jobs, j)
	}
	// The groups' estimates are independent (each on its own empty
	// snapshot of template nodes): run them on all CPUs.
	var todo []*job
	for _, j := range jobs {
		if !j.hit {
			todo = append(todo, j)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(todo) {
					return
				}
				j := todo[i]
				j.res, j.err = a.estimate(ctx, w, j.g, pods, j.room)
			}
		}()
	}
	wg.Wait()
	var out []expander.Option
	for _, j := range jobs {
		if j.err != nil {
			return nil, j.err
		}
		if !j.hit && !j.res.Capped {
			a.snap.storeEstimate(j.fp, j.room, pods, j.res)
		}
		res, g := j.res, j.g
		for k, r := range res.Unfit {
			note(k, g.name, r)
		}
		if len(res.Nodes) == 0 {
			continue
		}
		out = append(out, expander.Option{Group: g.cfg, NodeCount: len(res.Nodes), Pods: res.Scheduled, Nodes: res.Nodes,
			Debug: fmt.Sprintf("%d node(s) of %s for %d pod(s)", len(res.Nodes), g.name, len(res.Scheduled))})
	}
	return out, nil
}

// estimate runs the estimator for g's template.
// It may run concurrently with other groups' estimates.
func (a *Autoscaler) estimate(ctx context.Context, w *world, g *groupState, pods []*corev1.Pod, room int) (estimator.Result, error) {
	e := *a.estimator
	e.Prefix = "estimate-" + g.name
	if w.dra != nil {
		e.Units = w.units
		if s, ok := w.snapshot.(*simulator.ShareSnapshot); ok && s.DRA() {
			// The loop's snapshot holds this loop's claims; an estimate
			// starts from an empty copy of it that keeps them.
			e.Base = s.WithoutHints()
		}
	}
	res, err := e.Estimate(ctx, pods, func(name string) (simulator.NodeInfo, error) {
		return templateNodeInfo(g, name)
	}, room)
	if err != nil {
		return res, fmt.Errorf("node group %q: estimating: %w", g.name, err)
	}
	return res, nil
}

// headroom returns how many nodes and devices the cluster limits still
// allow, counting upcoming ones; a large number when unlimited.
func (a *Autoscaler) headroom(w *world) (nodes, gpus int) {
	const unlimited = 1 << 30
	nodes, gpus = unlimited, unlimited
	upcoming := 0
	for _, g := range w.groups {
		upcoming += g.upcoming
	}
	if m := a.cfg.Limits.MaxNodes; m > 0 {
		nodes = m - w.totalNodes - upcoming
	}
	if m := a.cfg.Limits.MaxGPUs; m > 0 {
		gpus = m - w.totalGPUs - w.upcomingGPU
	}
	return nodes, gpus
}

type increase struct {
	group *groupState
	delta int
}

// balance spreads best's nodes over the groups similar to best's (same
// template but for the zone) that can take the same pods, smallest group
// first, as Cluster Autoscaler's balance-similar-node-groups. Pods with a
// zone topology spread constraint are balanced even when the option is off.
func (a *Autoscaler) balance(w *world, best *expander.Option, options []expander.Option, now time.Time) []increase {
	g := w.byName[best.Group.Name]
	if !a.cfg.BalanceSimilarNodeGroups && !spreadsZones(best.Pods) {
		return []increase{{g, best.NodeCount}}
	}
	similar := []*groupState{g}
	for _, o := range options {
		og := w.byName[o.Group.Name]
		if og == g || len(o.Pods) != len(best.Pods) || a.backoff.backedOff(og.name, now) || !similarGroups(g, og) {
			continue
		}
		similar = append(similar, og)
	}
	if len(similar) == 1 {
		return []increase{{g, best.NodeCount}}
	}
	add := map[*groupState]int{}
	for i := 0; i < best.NodeCount; i++ {
		var pick *groupState
		for _, s := range similar {
			if s.target+add[s] >= s.cfg.MaxSize {
				continue
			}
			if pick == nil || s.target+add[s] < pick.target+add[pick] {
				pick = s
			}
		}
		if pick == nil {
			break
		}
		add[pick]++
	}
	var out []increase
	for _, s := range similar {
		if add[s] > 0 {
			out = append(out, increase{s, add[s]})
		}
	}
	return out
}

func spreadsZones(pods []*corev1.Pod) bool {
	for _, p := range pods {
		for _, c := range p.Spec.TopologySpreadConstraints {
			if c.TopologyKey == corev1.LabelTopologyZone && c.WhenUnsatisfiable == corev1.DoNotSchedule {
				return true
			}
		}
	}
	return false
}

// similarGroups compares templates ignoring the zone.
func similarGroups(a, b *groupState) bool {
	ta, tb := a.cfg.Template, b.cfg.Template
	if ta.Device != tb.Device || ta.CPU.Cmp(tb.CPU) != 0 || ta.Memory.Cmp(tb.Memory) != 0 || ta.Pods != tb.Pods || len(ta.Labels) != len(tb.Labels) || len(ta.Taints) != len(tb.Taints) {
		return false
	}
	for k, v := range ta.Labels {
		if k != corev1.LabelTopologyZone && tb.Labels[k] != v {
			return false
		}
	}
	for i := range ta.Taints {
		if !ta.Taints[i].MatchTaint(&tb.Taints[i]) {
			return false
		}
	}
	return a.cfg.Burst == b.cfg.Burst
}

// increase asks the provider for delta nodes of g and records the request;
// on failure the group is backed off.
func (a *Autoscaler) increase(ctx context.Context, w *world, g *groupState, delta int, now time.Time) bool {
	logger := klog.FromContext(ctx)
	if err := g.group.IncreaseSize(ctx, delta); err != nil {
		until := a.backoff.fail(g.name, now)
		a.metrics.FailedScaleUps.WithLabelValues(g.name, "provider").Inc()
		logger.Error(err, "Scale-up failed; backing off", "nodeGroup", g.name, "delta", delta, "until", until)
		return false
	}
	logger.Info("Scale-up", "nodeGroup", g.name, "from", g.target, "to", g.target+delta)
	g.target += delta
	g.upcoming += delta
	w.upcomingGPU += delta * g.devices
	r, ok := a.requests[g.name]
	if !ok {
		r = &scaleUpRequest{time: now}
		a.requests[g.name] = r
	}
	r.increase += delta
	r.expectedAddTime = now.Add(a.cfg.MaxNodeProvisionTime)
	a.lastScaleUp = now
	a.metrics.ScaleUps.WithLabelValues(g.name).Inc()
	a.metrics.ScaledUpNodes.WithLabelValues(g.name).Add(float64(delta))
	return true
}
