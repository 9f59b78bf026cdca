package core

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/core/contract"
)

// scaleUpRequest is a live request for nodes of one group; while it lives
// the group's missing nodes count as upcoming.
type scaleUpRequest struct {
	increase        int
	time            time.Time
	expectedAddTime time.Time
	// failed is set once nodes of the request were deleted for never
	// becoming ready: the scale-up is already counted as failed.
	failed bool
}

// groupState is one group as this loop sees it.
type groupState struct {
	name       string
	group      cloudprovider.NodeGroup
	cfg        config.NodeGroup
	target     int
	registered int
	ready      int
	upcoming   int
	min        int
	devices    int // devices of the group's kind per node (for maxGPUs)
}

// world is one loop's view of the cluster.
type world struct {
	nodes       []*corev1.Node
	pods        []*corev1.Pod
	pdbs        []*policyv1.PodDisruptionBudget
	groups      []*groupState
	byName      map[string]*groupState
	nodeGroup   map[string]*groupState // node name -> group; absent when unmanaged
	ready       map[string]bool
	podsOn      map[string][]*corev1.Pod
	snapshot    simulator.Snapshot // ready nodes with their pods; never changed by the loop
	generation  uint64             // changes whenever snapshot does
	pending     []*corev1.Pod
	totalNodes  int
	totalGPUs   int
	upcomingGPU int
	// unschedulable is the pending pods that fit no existing or upcoming
	// capacity.
	unschedulable int
	// dra is the DRA objects; nil when no group is in DRA mode.
	dra *draWorld
}

// units returns a pod's device units, its claims' included.
func (w *world) units(p *corev1.Pod) int { return w.dra.units(p) }

// nodeReady reports whether a node takes pods: Ready, not being deleted,
// and, for a group whose template has devices, with its inventory
// published (a GPU node whose device plugin has not reported is not
// ready, so it is never taken as capacity it does not yet have); in DRA
// mode, with its cards in a ResourceSlice.
func nodeReady(n *corev1.Node, g *groupState, d *draWorld) bool {
	if source.HasToBeDeleted(n) || n.DeletionTimestamp != nil {
		return false
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return false
	}
	switch {
	case g == nil || g.cfg.Template.Device.Count == 0:
	case g.cfg.Template.Device.DRA():
		if _, ok := d.node(n.Name); !ok {
			return false
		}
	default:
		if _, err := contract.InventoryOf(n); err != nil {
			return false
		}
	}
	return true
}

func (a *Autoscaler) observe(ctx context.Context, now time.Time) (*world, error) {
	logger := klog.FromContext(ctx)
	w := &world{byName: map[string]*groupState{}, nodeGroup: map[string]*groupState{}, ready: map[string]bool{}, podsOn: map[string][]*corev1.Pod{}}
	var err error
	if w.nodes, err = a.source.Nodes(ctx); err != nil {
		return nil, err
	}
	if w.pods, err = a.source.Pods(ctx); err != nil {
		return nil, err
	}
	if w.pdbs, err = a.source.PodDisruptionBudgets(ctx); err != nil {
		return nil, err
	}
	if a.dra {
		if w.dra, err = a.observeDRA(ctx); err != nil {
			return nil, err
		}
	}
	for _, g := range a.provider.NodeGroups() {
		t, err := g.TargetSize()
		if err != nil {
			return nil, fmt.Errorf("node group %q: target size: %w", g.Id(), err)
		}
		cfg := g.Config()
		gs := &groupState{name: g.Id(), group: g, cfg: cfg, target: t, min: a.minimum(g.Id(), cfg.MinSize, now), devices: cfg.Template.Device.Count}
		w.groups = append(w.groups, gs)
		w.byName[gs.name] = gs
	}
	for _, n := range w.nodes {
		g, err := a.provider.NodeGroupForNode(n)
		if err != nil {
			return nil, fmt.Errorf("node %q: node group: %w", n.Name, err)
		}
		var gs *groupState
		if g != nil {
			gs = w.byName[g.Id()]
			w.nodeGroup[n.Name] = gs
		}
		if gs != nil && !a.removedUnready[n.Name] {
			gs.registered++
		}
		if nodeReady(n, gs, w.dra) {
			w.ready[n.Name] = true
			if gs != nil {
				gs.ready++
			}
		}
		w.totalNodes++
		if inv, err := contract.InventoryOf(n); err == nil {
			w.totalGPUs += len(inv.Devices)
		} else if dn, ok := w.dra.node(n.Name); ok {
			w.totalGPUs += len(dn.State.Devices)
		}
	}
	for _, p := range w.pods {
		if p.Spec.NodeName == "" {
			if isPending(p) {
				w.pending = append(w.pending, p)
			}
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		w.podsOn[p.Spec.NodeName] = append(w.podsOn[p.Spec.NodeName], p)
	}
	a.restoreRequests(ctx, w, now)
	a.removeUnready(ctx, w, now)
	// Scale-up requests: done once the group has its nodes ready, failed
	// once they are later than the max provision time.
	for name, r := range a.requests {
		g, ok := w.byName[name]
		switch {
		case !ok || g.ready >= g.target:
			delete(a.requests, name)
		case now.After(r.expectedAddTime):
			missing := g.target - g.registered
			logger.Info("Scale-up timed out", "nodeGroup", name, "requested", r.increase, "missing", g.target-g.ready)
			if !r.failed {
				a.metrics.FailedScaleUps.WithLabelValues(name, "timeout").Inc()
				a.backoff.fail(name, now)
			}
			if missing > 0 {
				if err := g.group.DecreaseTargetSize(ctx, missing); err != nil {
					logger.Error(err, "Withdrawing timed-out nodes", "nodeGroup", name)
				} else {
					g.target -= missing
				}
			}
			delete(a.requests, name)
		}
	}
	for _, g := range w.groups {
		if _, live := a.requests[g.name]; live && !a.backoff.backedOff(g.name, now) {
			g.upcoming = max(0, g.target-g.ready)
			w.upcomingGPU += g.upcoming * g.devices
		}
	}
	// The snapshot holds ready nodes and their pods; it is kept between
	// loops and only the changes are applied.
	if w.snapshot, err = a.snap.sync(ctx, w.nodes, w.ready, w.pods); err != nil {
		return nil, err
	}
	a.snap.syncDRA(w.dra, w.ready)
	w.generation = a.snap.gen
	return w, nil
}

// isPending reports whether gantry-scheduler tried the pod and found no
// node: PodScheduled False with reason Unschedulable.
func isPending(p *corev1.Pod) bool {
	if p.Spec.SchedulerName != contract.SchedulerName || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable
		}
	}
	return false
}
