package core

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/autoscaler/utils/podutil"
)

// scaleDown tracks unneeded nodes and removes those unneeded long enough
// whose pods the real plugin can place elsewhere.
func (a *Autoscaler) scaleDown(ctx context.Context, w *world, now time.Time, scaledUp bool) error {
	logger := klog.FromContext(ctx)
	sd := a.cfg.ScaleDown
	util := map[string]float64{}
	seen := map[string]bool{}
	for _, n := range w.nodes {
		g := w.nodeGroup[n.Name]
		if g == nil || !w.ready[n.Name] {
			continue
		}
		seen[n.Name] = true
		u := podutil.ShareUtilization(n, w.podsOn[n.Name])
		util[n.Name] = u
		if u < sd.UtilizationThreshold {
			if _, ok := a.unneeded[n.Name]; !ok {
				a.unneeded[n.Name] = now
			}
		} else {
			delete(a.unneeded, n.Name)
		}
	}
	for n := range a.unneeded {
		if !seen[n] {
			delete(a.unneeded, n)
		}
	}
	switch {
	case !sd.Enabled, scaledUp:
		return nil
	case !a.lastScaleUp.IsZero() && now.Sub(a.lastScaleUp) < sd.DelayAfterAdd:
		return nil
	case !a.lastScaleDownFailure.IsZero() && now.Sub(a.lastScaleDownFailure) < sd.DelayAfterFailure:
		return nil
	}
	var candidates []string
	for n, since := range a.unneeded {
		if now.Sub(since) >= sd.UnneededTime {
			candidates = append(candidates, n)
		}
	}
	sort.Slice(candidates, func(i, j int) bool {
		if util[candidates[i]] != util[candidates[j]] {
			return util[candidates[i]] < util[candidates[j]]
		}
		return candidates[i] < candidates[j]
	})
	removals, err := a.planRemovals(ctx, w, candidates)
	if err != nil {
		return err
	}
	for _, r := range removals {
		if err := a.remove(ctx, w, r); err != nil {
			logger.Error(err, "Scale-down failed", "node", r.node.Name)
			a.lastScaleDownFailure = now
			return nil
		}
		delete(a.unneeded, r.node.Name)
		a.lastScaleDown = now
	}
	return nil
}

type removal struct {
	node  *corev1.Node
	group *groupState
	evict []*corev1.Pod
}

// planRemovals picks up to MaxConcurrent candidates that keep their groups
// at or above their minimum, hold no pod that must stay, respect PDBs, and
// whose pods the real plugin places on the remaining nodes, card by card.
// Each accepted node's pods stay placed for the next candidate's check,
// and a node that receives them is not drained in the same pass (its pods
// to move would miss them), as Cluster Autoscaler does.
func (a *Autoscaler) planRemovals(ctx context.Context, w *world, candidates []string) ([]removal, error) {
	logger := klog.FromContext(ctx)
	budget := pdbBudgets(w.pdbs)
	removed := map[*groupState]int{}
	var snap simulator.Snapshot = w.snapshot
	var out []removal
	byName := map[string]*corev1.Node{}
	for _, n := range w.nodes {
		byName[n.Name] = n
	}
	simulated := 0
	destinations := map[string]bool{}
	for _, name := range candidates {
		if len(out) >= a.cfg.ScaleDown.MaxConcurrent || simulated >= maxDrainSimulations(a.cfg.ScaleDown.MaxConcurrent) {
			break
		}
		if destinations[name] {
			logger.V(4).Info("Node not removable", "node", name, "reason", "receives pods moved off another node")
			continue
		}
		g := w.nodeGroup[name]
		if g.target-removed[g]-1 < g.min {
			logger.V(4).Info("Node not removable", "node", name, "reason", "node group at its minimum", "min", g.min)
			continue
		}
		evict, why := podsToMove(w.podsOn[name], budget)
		if why != "" {
			logger.V(4).Info("Node not removable", "node", name, "reason", why)
			continue
		}
		simulated++
		fork, err := snap.Fork(ctx)
		if err != nil {
			return nil, err
		}
		fork.RemoveNode(name)
		moving := append([]*corev1.Pod(nil), evict...)
		podutil.SortLargestFirst(moving)
		fits := true
		var dests []string
		for _, p := range moving {
			q := p.DeepCopy()
			q.Spec.NodeName = ""
			delete(q.Annotations, "gantry.dev/allocation")
			delete(q.Annotations, "gantry.dev/allocated")
			node, _, reason, err := fork.Schedule(ctx, q)
			if err != nil {
				logger.Error(err, "Node not removable: simulating its drain failed", "node", name, "pod", klog.KObj(p))
				fits = false
				break
			}
			if node == "" {
				logger.V(4).Info("Node not removable", "node", name, "reason", "pod fits nowhere else", "pod", klog.KObj(p), "why", reason)
				fits = false
				break
			}
			dests = append(dests, node)
		}
		if !fits {
			continue
		}
		consume(budget, evict)
		for _, d := range dests {
			destinations[d] = true
		}
		snap = fork
		removed[g]++
		out = append(out, removal{node: byName[name], group: g, evict: evict})
	}
	return out, nil
}

// maxDrainSimulations caps the drains simulated in one loop (each forks
// the cluster), as Cluster Autoscaler caps non-empty candidates at 30.
func maxDrainSimulations(maxConcurrent int) int { return max(30, 3*maxConcurrent) }

// podsToMove returns the pods that must move off a node (DaemonSet and
// mirror pods stay), or why the node cannot be drained.
func podsToMove(pods []*corev1.Pod, budget []*pdbBudget) ([]*corev1.Pod, string) {
	var out []*corev1.Pod
	need := map[*pdbBudget]int{}
	for _, p := range pods {
		if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			continue
		}
		ref := metav1.GetControllerOf(p)
		if ref != nil && ref.Kind == "DaemonSet" {
			continue
		}
		safe := p.Annotations[AnnotationSafeToEvict]
		if v, ok := p.Annotations[AnnotationGantrySafeToEvict]; ok {
			safe = v
		}
		switch {
		case safe == "false":
			return nil, fmt.Sprintf("pod %s/%s is annotated safe-to-evict: false", p.Namespace, p.Name)
		case ref == nil && safe != "true":
			return nil, fmt.Sprintf("pod %s/%s has no controller and is not annotated safe-to-evict", p.Namespace, p.Name)
		}
		for _, b := range budget {
			if b.matches(p) {
				need[b]++
			}
		}
		out = append(out, p)
	}
	for b, n := range need {
		if b.remaining < n {
			return nil, fmt.Sprintf("PodDisruptionBudget %s/%s allows %d disruption(s), the node needs %d", b.pdb.Namespace, b.pdb.Name, b.remaining, n)
		}
	}
	return out, ""
}

type pdbBudget struct {
	pdb       *policyv1.PodDisruptionBudget
	selector  labels.Selector
	remaining int
}

func (b *pdbBudget) matches(p *corev1.Pod) bool {
	return b.pdb.Namespace == p.Namespace && b.selector.Matches(labels.Set(p.Labels))
}

func pdbBudgets(pdbs []*policyv1.PodDisruptionBudget) []*pdbBudget {
	var out []*pdbBudget
	for _, p := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		out = append(out, &pdbBudget{pdb: p, selector: sel, remaining: int(p.Status.DisruptionsAllowed)})
	}
	return out
}

func consume(budget []*pdbBudget, pods []*corev1.Pod) {
	for _, p := range pods {
		for _, b := range budget {
			if b.matches(p) {
				b.remaining--
			}
		}
	}
}

// remove cordons and taints the node, evicts its pods and deletes it. On
// failure after marking, the node is unmarked so that it takes pods again.
func (a *Autoscaler) remove(ctx context.Context, w *world, r removal) error {
	logger := klog.FromContext(ctx)
	if err := a.source.MarkToBeDeleted(ctx, r.node.Name); err != nil {
		return err
	}
	if err := a.drainAndDelete(ctx, r); err != nil {
		a.unmark(ctx, r.node.Name)
		return err
	}
	r.group.target--
	a.recorder.Eventf(r.node, corev1.EventTypeNormal, EventScaleDown, "node removed by gantry-autoscaler: unneeded, %d pod(s) moved", len(r.evict))
	a.metrics.ScaledDownNodes.WithLabelValues(r.group.name).Inc()
	logger.Info("Scale-down", "node", r.node.Name, "nodeGroup", r.group.name, "evicted", len(r.evict))
	return nil
}

func (a *Autoscaler) drainAndDelete(ctx context.Context, r removal) error {
	for _, p := range r.evict {
		if err := a.source.Evict(ctx, p); err != nil {
			return err
		}
		a.recorder.Eventf(p, corev1.EventTypeNormal, EventScaleDown, "deleting pod for node scale down")
	}
	if err := r.group.group.DeleteNodes(ctx, []*corev1.Node{r.node}); err != nil {
		return fmt.Errorf("deleting node %q from group %q: %w", r.node.Name, r.group.name, err)
	}
	return nil
}

// unmark takes back MarkToBeDeleted where the source can; it reports
// whether the node is unmarked.
func (a *Autoscaler) unmark(ctx context.Context, node string) bool {
	u, ok := a.source.(source.Unmarker)
	if !ok {
		return false
	}
	if err := u.UnmarkToBeDeleted(ctx, node); err != nil {
		klog.FromContext(ctx).Error(err, "Removing the to-be-deleted taint", "node", node)
		return false
	}
	return true
}

// unmarkLeftovers removes the to-be-deleted taints an earlier run left on
// nodes that are not being deleted, as Cluster Autoscaler does at start;
// it reports whether all were removed.
func (a *Autoscaler) unmarkLeftovers(ctx context.Context) (bool, error) {
	if _, ok := a.source.(source.Unmarker); !ok {
		return true, nil
	}
	nodes, err := a.source.Nodes(ctx)
	if err != nil {
		return false, err
	}
	done := true
	for _, n := range nodes {
		if !source.HasToBeDeleted(n) || n.DeletionTimestamp != nil {
			continue
		}
		klog.FromContext(ctx).Info("Removing a to-be-deleted taint left by an earlier run", "node", n.Name)
		if !a.unmark(ctx, n.Name) {
			done = false
		}
	}
	return done, nil
}
