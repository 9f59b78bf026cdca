package core

import (
	"context"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/autoscaler/source"
)

// EventDeleteUnreadyNode is recorded on a node that registered but never
// became ready (for a GPU group: never published its inventory) within
// the max node provision time and was deleted.
const EventDeleteUnreadyNode = "DeleteUnreadyNode"

// removeUnready deletes, through the provider, the group nodes that
// registered but never became ready within MaxNodeProvisionTime, as
// Cluster Autoscaler removes long unregistered/unready nodes. Each
// group that loses nodes counts a failed scale-up and is backed off, so
// that raising it back to its minimum waits for the backoff. A node is
// timed from when this process first saw it not ready, or from the last
// scale-up of its group when that is earlier; a node ever seen ready, or
// running pods other than DaemonSet ones, is never touched.
func (a *Autoscaler) removeUnready(ctx context.Context, w *world, now time.Time) {
	logger := klog.FromContext(ctx)
	present := map[string]bool{}
	stuck := map[*groupState][]*corev1.Node{}
	for _, n := range w.nodes {
		present[n.Name] = true
		g := w.nodeGroup[n.Name]
		switch {
		case g == nil:
			continue
		case w.ready[n.Name]:
			a.seenReady[n.Name] = true
			delete(a.unreadySince, n.Name)
			continue
		case a.seenReady[n.Name] || a.removedUnready[n.Name] || source.HasToBeDeleted(n) || n.DeletionTimestamp != nil || runsWorkload(w.podsOn[n.Name]):
			continue
		}
		since, ok := a.unreadySince[n.Name]
		if !ok {
			since = now
			a.unreadySince[n.Name] = since
		}
		if r, live := a.requests[g.name]; live {
			if requested := r.expectedAddTime.Add(-a.cfg.MaxNodeProvisionTime); requested.Before(since) {
				since = requested
			}
		}
		if now.Sub(since) > a.cfg.MaxNodeProvisionTime {
			stuck[g] = append(stuck[g], n)
		}
	}
	for n := range a.unreadySince {
		if !present[n] {
			delete(a.unreadySince, n)
		}
	}
	for _, m := range []map[string]bool{a.seenReady, a.removedUnready} {
		for n := range m {
			if !present[n] {
				delete(m, n)
			}
		}
	}
	groups := make([]*groupState, 0, len(stuck))
	for g := range stuck {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].name < groups[j].name })
	for _, g := range groups {
		nodes := stuck[g]
		if err := g.group.DeleteNodes(ctx, nodes); err != nil {
			logger.Error(err, "Deleting nodes that never became ready", "nodeGroup", g.name, "nodes", len(nodes))
			continue
		}
		for _, n := range nodes {
			a.removedUnready[n.Name] = true
			delete(a.unreadySince, n.Name)
			a.recorder.Eventf(n, corev1.EventTypeWarning, EventDeleteUnreadyNode, "node deleted by gantry-autoscaler: not ready within max node provision time %s", a.cfg.MaxNodeProvisionTime)
		}
		g.target -= len(nodes)
		g.registered -= len(nodes)
		until := a.backoff.fail(g.name, now)
		a.metrics.FailedScaleUps.WithLabelValues(g.name, "unready").Inc()
		if r, live := a.requests[g.name]; live {
			r.failed = true
		}
		logger.Info("Deleted nodes that never became ready; backing off", "nodeGroup", g.name, "nodes", len(nodes), "until", until)
	}
}

// runsWorkload reports whether pods hold anything but DaemonSet pods.
func runsWorkload(pods []*corev1.Pod) bool {
	for _, p := range pods {
		ds := false
		for _, o := range p.OwnerReferences {
			if o.Kind == "DaemonSet" {
				ds = true
			}
		}
		if !ds {
			return true
		}
	}
	return false
}

// restoreRequests rebuilds, on the first loop, the scale-up requests an
// earlier process had in flight: a group whose target exceeds its
// registered nodes has nodes coming, timed from now (Cluster Autoscaler
// takes upcoming nodes as target minus registered the same way).
func (a *Autoscaler) restoreRequests(ctx context.Context, w *world, now time.Time) {
	if a.restored {
		return
	}
	a.restored = true
	for _, g := range w.groups {
		missing := g.target - g.registered
		if _, live := a.requests[g.name]; live || missing <= 0 {
			continue
		}
		klog.FromContext(ctx).Info("Restoring upcoming nodes of an earlier scale-up", "nodeGroup", g.name, "target", g.target, "registered", g.registered, "upcoming", missing)
		a.requests[g.name] = &scaleUpRequest{increase: missing, time: now, expectedAddTime: now.Add(a.cfg.MaxNodeProvisionTime)}
	}
}
