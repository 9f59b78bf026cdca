package core

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
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
		// In DRA mode the claims' consumed capacity: a card holding one
		// 10 percent share is 10 percent used.
		u, ok := w.dra.utilization(n.Name)
		if !ok {
			u = podutil.ShareUtilization(n, w.podsOn[n.Name])
		}
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
	// Where evicted pods take time to go (a TerminationWaiter source),
	// nodes drain in parallel, each waiting for its own pods; sources that
	// remove pods at once (in-memory clusters, the trace simulator's) drain
	// one node after another, so their runs stay deterministic and need no
	// locking. The provider deletes the nodes one at a time.
	errs := make([]error, len(removals))
	if _, waits := a.source.(source.TerminationWaiter); waits {
		var wg sync.WaitGroup
		for i, r := range removals {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = a.drain(ctx, r)
			}()
		}
		wg.Wait()
	} else {
		for i, r := range removals {
			errs[i] = a.drain(ctx, r)
		}
	}
	for i, r := range removals {
		if errs[i] == nil {
			if err := r.group.group.DeleteNodes(ctx, []*corev1.Node{r.node}); err != nil {
				errs[i] = fmt.Errorf("deleting node %q from group %q: %w", r.node.Name, r.group.name, err)
				a.keep(ctx, r, errs[i])
			}
		}
		if errs[i] != nil {
			logger.Error(errs[i], "Scale-down failed", "node", r.node.Name)
			a.lastScaleDownFailure = now
			continue
		}
		r.group.target--
		delete(a.unneeded, r.node.Name)
		a.lastScaleDown = now
		a.recorder.Eventf(r.node, corev1.EventTypeNormal, EventScaleDown, "node removed by gantry-autoscaler: unneeded, %d pod(s) moved", len(r.evict))
		a.metrics.ScaledDownNodes.WithLabelValues(r.group.name).Inc()
		logger.Info("Scale-down", "node", r.node.Name, "nodeGroup", r.group.name, "evicted", len(r.evict))
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
		var released []*resourceapi.ResourceClaim
		if w.dra != nil {
			if released, why = w.dra.released(evict); why != "" {
				logger.V(4).Info("Node not removable", "node", name, "reason", why)
				continue
			}
		}
		simulated++
		fork, err := snap.Fork(ctx)
		if err != nil {
			return nil, err
		}
		fork.RemoveNode(name)
		if d, ok := simulator.AsDRA(fork); ok {
			// The moving pods' claims are allocated afresh elsewhere,
			// as the resourceclaim controller and scheduler would for
			// their replacements.
			for _, c := range released {
				d.AddClaim(c)
			}
		}
		moving := append([]*corev1.Pod(nil), evict...)
		podutil.SortLargestFirstBy(moving, w.units)
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
		covering := 0
		for _, b := range budget {
			if b.matches(p) {
				need[b]++
				covering++
			}
		}
		if covering > 1 {
			// The Eviction API refuses such pods outright.
			return nil, fmt.Sprintf("pod %s/%s is covered by %d PodDisruptionBudgets; the Eviction API evicts pods covered by at most one", p.Namespace, p.Name, covering)
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
	remaining int
}

func (b *pdbBudget) matches(p *corev1.Pod) bool { return source.PDBMatches(b.pdb, p) }

// pdbBudgets returns every PodDisruptionBudget's remaining disruptions,
// empty selectors included (they cover every pod of their namespace).
func pdbBudgets(pdbs []*policyv1.PodDisruptionBudget) []*pdbBudget {
	out := make([]*pdbBudget, 0, len(pdbs))
	for _, p := range pdbs {
		out = append(out, &pdbBudget{pdb: p, remaining: int(p.Status.DisruptionsAllowed)})
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

// drain cordons and taints the node, evicts its pods through the
// Eviction API (retrying those a PodDisruptionBudget refuses) and waits
// until every evicted pod is gone, all within
// ScaleDown.MaxPodEvictionTime (else the error wraps ErrDrainTimeout). On
// failure after marking, the node is kept: see keep.
func (a *Autoscaler) drain(ctx context.Context, r removal) error {
	if err := a.source.MarkToBeDeleted(ctx, r.node.Name); err != nil {
		return err
	}
	if err := a.evictAndWait(ctx, r); err != nil {
		a.keep(ctx, r, err)
		return err
	}
	return nil
}

// keep unmarks a node whose removal failed, so that it takes pods again,
// and says why in a warning event on the node.
func (a *Autoscaler) keep(ctx context.Context, r removal, err error) {
	a.recorder.Eventf(r.node, corev1.EventTypeWarning, EventScaleDownFailed, "gantry-autoscaler kept the node: %v", err)
	a.unmark(ctx, r.node.Name)
}

func (a *Autoscaler) evictAndWait(ctx context.Context, r removal) error {
	limit := a.cfg.ScaleDown.MaxPodEvictionTime
	if limit <= 0 {
		limit = v1alpha1.DefaultMaxPodEvictionTime
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	pending := r.evict
	for {
		var refused []*corev1.Pod
		var lastRefusal error
		for _, p := range pending {
			err := a.source.Evict(ctx, p)
			switch {
			case err == nil:
				a.recorder.Eventf(p, corev1.EventTypeNormal, EventScaleDown, "evicting pod for node %s scale down", r.node.Name)
			case source.IsEvictionRefused(err):
				refused, lastRefusal = append(refused, p), err
			default:
				return err
			}
		}
		if len(refused) == 0 {
			break
		}
		klog.FromContext(ctx).V(2).Info("Evictions refused by a PodDisruptionBudget; retrying", "node", r.node.Name, "refused", len(refused), "err", lastRefusal)
		if !sleep(ctx, a.evictionRetry) {
			return fmt.Errorf("%w: %d pod(s) on node %q not evicted within %v: %v", ErrDrainTimeout, len(refused), r.node.Name, limit, lastRefusal)
		}
		pending = refused
	}
	w, ok := a.source.(source.TerminationWaiter)
	if !ok {
		return nil
	}
	for _, p := range r.evict {
		for {
			gone, err := w.PodGone(ctx, p)
			if err != nil {
				return err
			}
			if gone {
				break
			}
			if !sleep(ctx, a.terminationPoll) {
				return fmt.Errorf("%w: pod %s/%s evicted from node %q did not terminate within %v", ErrDrainTimeout, p.Namespace, p.Name, r.node.Name, limit)
			}
		}
	}
	return nil
}

// ErrDrainTimeout is wrapped by a scale-down whose pods were not evicted,
// or did not terminate, within ScaleDown.MaxPodEvictionTime.
var ErrDrainTimeout = errors.New("drain timed out")

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
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
