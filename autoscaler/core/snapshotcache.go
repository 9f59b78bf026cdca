package core

import (
	"context"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/autoscaler/estimator"
	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/autoscaler/utils/podutil"
)

// snapshotCache keeps the snapshot of ready nodes and their pods between
// loops and brings it up to date with the changes since the last loop
// (nodes and pods added, removed or updated), so a loop over an unchanged
// cluster rebuilds nothing. The loop never changes the snapshot it is
// given: every simulation runs on a fork or an empty snapshot.
type snapshotCache struct {
	base  simulator.Snapshot
	snap  simulator.Snapshot
	nodes map[string]*corev1.Node
	pods  map[string]*corev1.Pod // namespace/name -> the bound pod in snap
	// gen changes whenever the snapshot does.
	gen uint64
	// cur and prev memoise this loop's and the last loop's simulations.
	cur, prev *memo
	// draSnap and draFingerprint are the snapshot the DRA objects were
	// last given to and what they were.
	draSnap        simulator.Snapshot
	draFingerprint string
}

// syncDRA gives the snapshot this loop's DRA objects (the slices of its
// ready nodes, every class and claim) when they changed since the last
// loop or the snapshot was rebuilt.
func (c *snapshotCache) syncDRA(d *draWorld, ready map[string]bool) {
	s, ok := simulator.AsDRA(c.snap)
	if d == nil || !ok {
		return
	}
	fp := d.fingerprint + "|ready:" + readyKey(ready)
	if c.draSnap == c.snap && c.draFingerprint == fp {
		return
	}
	s.SetDRAObjects(d.slicesOf(ready), d.classList(), d.claimList())
	c.draSnap, c.draFingerprint = c.snap, fp
	c.gen++
}

func readyKey(ready map[string]bool) string {
	names := make([]string, 0, len(ready))
	for n, ok := range ready {
		if ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func newSnapshotCache(base simulator.Snapshot) *snapshotCache {
	return &snapshotCache{base: base}
}

// sameObject reports whether two versions of an object are the same: the
// same pointer (a lister's cache hands out the same object until it
// changes), or the same UID and resourceVersion.
func sameObject(a, b metaObject) bool {
	if a == b {
		return true
	}
	ra, rb := a.GetResourceVersion(), b.GetResourceVersion()
	return ra != "" && ra == rb && a.GetUID() != "" && a.GetUID() == b.GetUID()
}

type metaObject interface {
	GetResourceVersion() string
	GetUID() string
}

type nodeMeta struct{ *corev1.Node }

func (n nodeMeta) GetUID() string { return string(n.Node.UID) }

type podMeta struct{ *corev1.Pod }

func (p podMeta) GetUID() string { return string(p.Pod.UID) }

func sameNode(a, b *corev1.Node) bool { return a == b || sameObject(nodeMeta{a}, nodeMeta{b}) }
func samePod(a, b *corev1.Pod) bool   { return a == b || sameObject(podMeta{a}, podMeta{b}) }

// sync returns the snapshot of the ready nodes and the pods bound to them
// that are not terminated, applying only what changed since the last call.
func (c *snapshotCache) sync(ctx context.Context, nodes []*corev1.Node, ready map[string]bool, pods []*corev1.Pod) (simulator.Snapshot, error) {
	c.rotate()
	if c.snap == nil {
		s, err := c.base.Empty(ctx)
		if err != nil {
			return nil, err
		}
		c.snap, c.nodes, c.pods = s, map[string]*corev1.Node{}, map[string]*corev1.Pod{}
		c.gen++
	}
	changed := false
	wantNodes := make(map[string]*corev1.Node, len(nodes))
	for _, n := range nodes {
		if ready[n.Name] {
			wantNodes[n.Name] = n
		}
	}
	// Nodes gone or no longer ready: the snapshot drops them with their pods.
	for name := range c.nodes {
		if _, ok := wantNodes[name]; !ok {
			c.snap.RemoveNode(name)
			delete(c.nodes, name)
			changed = true
		}
	}
	for key, p := range c.pods {
		if _, ok := c.nodes[p.Spec.NodeName]; !ok {
			delete(c.pods, key)
		}
	}
	// Nodes added or updated (an update keeps the node's pods).
	for _, n := range nodes {
		if !ready[n.Name] {
			continue
		}
		if old, ok := c.nodes[n.Name]; ok && sameNode(old, n) {
			continue
		}
		c.snap.AddNode(n)
		c.nodes[n.Name] = n
		changed = true
	}
	// Pods.
	wantPods := make(map[string]*corev1.Pod, len(pods))
	for _, p := range pods {
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || !ready[p.Spec.NodeName] {
			continue
		}
		wantPods[podutil.Key(p)] = p
	}
	for key, old := range c.pods {
		if p, ok := wantPods[key]; !ok || !samePod(old, p) {
			if err := c.snap.RemovePod(old); err != nil {
				// A pod the snapshot cannot take back (no UID, say):
				// build it again from scratch.
				c.reset()
				return c.sync(ctx, nodes, ready, pods)
			}
			delete(c.pods, key)
			changed = true
		}
	}
	var add []*corev1.Pod
	for _, p := range pods {
		key := podutil.Key(p)
		if wantPods[key] != p {
			continue
		}
		if _, ok := c.pods[key]; ok {
			continue
		}
		add = append(add, p)
		c.pods[key] = p
		changed = true
	}
	if err := simulator.AddPods(c.snap, add); err != nil {
		c.reset()
		return nil, err
	}
	if changed {
		c.gen++
	}
	return c.snap, nil
}

// reset drops the snapshot; the next sync rebuilds it.
func (c *snapshotCache) reset() { c.snap, c.nodes, c.pods = nil, nil, nil }

// Results of the loop's simulations, memoised across loops. Each is a
// deterministic function of its inputs (the snapshot's generation, the
// upcoming nodes, the pods in order, the template), so a loop whose inputs
// did not change takes the same decision without simulating again. Entries
// live for the loop that made or used them and the next one.
type memo struct {
	filter    []filterMemo
	estimates []estimateMemo
}

type filterMemo struct {
	gen      uint64
	upcoming string
	pending  []*corev1.Pod
	out      []*corev1.Pod
}

type estimateMemo struct {
	template string
	room     int
	pods     []*corev1.Pod
	res      estimator.Result
}

func samePods(a, b []*corev1.Pod) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !samePod(a[i], b[i]) {
			return false
		}
	}
	return true
}

// rotate starts a loop: what the last loop made or used is kept.
func (c *snapshotCache) rotate() {
	c.prev, c.cur = c.cur, &memo{}
}

func (c *snapshotCache) filtered(gen uint64, upcoming string, pending []*corev1.Pod) ([]*corev1.Pod, bool) {
	for _, m := range []*memo{c.cur, c.prev} {
		if m == nil {
			continue
		}
		for _, f := range m.filter {
			if f.gen == gen && f.upcoming == upcoming && samePods(f.pending, pending) {
				if m != c.cur && c.cur != nil {
					c.cur.filter = append(c.cur.filter, f)
				}
				return f.out, true
			}
		}
	}
	return nil, false
}

func (c *snapshotCache) storeFiltered(gen uint64, upcoming string, pending, out []*corev1.Pod) {
	if c.cur == nil {
		c.rotate()
	}
	c.cur.filter = append(c.cur.filter, filterMemo{gen, upcoming, pending, out})
}

func (c *snapshotCache) estimated(template string, room int, pods []*corev1.Pod) (estimator.Result, bool) {
	for _, m := range []*memo{c.cur, c.prev} {
		if m == nil {
			continue
		}
		for _, e := range m.estimates {
			if e.template == template && e.room == room && samePods(e.pods, pods) {
				if m != c.cur && c.cur != nil {
					c.cur.estimates = append(c.cur.estimates, e)
				}
				return e.res, true
			}
		}
	}
	return estimator.Result{}, false
}

func (c *snapshotCache) storeEstimate(template string, room int, pods []*corev1.Pod, res estimator.Result) {
	if c.cur == nil {
		c.rotate()
	}
	c.cur.estimates = append(c.cur.estimates, estimateMemo{template, room, pods, res})
}
