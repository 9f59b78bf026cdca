package core

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/scheduler/simulate"
)

// podCounts is the number of pods the snapshot's framework sees per node.
func podCounts(t *testing.T, s simulator.Snapshot) map[string]int {
	out := map[string]int{}
	for _, ni := range s.(*simulator.ShareSnapshot).Cluster().Nodes() {
		out[ni.Node().Name] = len(ni.GetPods())
	}
	return out
}

func TestSnapshotCacheAppliesChanges(t *testing.T) {
	ctx := context.Background()
	base, err := simulator.NewShareSnapshot(ctx, simulate.Options{})
	require.NoError(t, err)
	g := group("g", "A100", 8, 10, 1)
	var nodes []*corev1.Node
	var pods []*corev1.Pod
	ready := map[string]bool{}
	for _, name := range []string{"n1", "n2", "n3"} {
		n, err := cloudprovider.BuildNode(g, name)
		require.NoError(t, err)
		nodes = append(nodes, n)
		ready[name] = true
		for i, pn := range []string{"a", "b"} {
			pods = append(pods, bound(name+"-"+pn, name, 25, i))
		}
	}
	c := newSnapshotCache(base)
	s, err := c.sync(ctx, nodes, ready, pods)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"n1": 2, "n2": 2, "n3": 2}, podCounts(t, s))
	gen := c.gen

	// Unchanged: nothing applied, same generation.
	s, err = c.sync(ctx, nodes, ready, pods)
	require.NoError(t, err)
	require.Equal(t, gen, c.gen)

	// n3 no longer ready, a pod of n1 deleted, one added on n2, n2 updated.
	ready["n3"] = false
	pods = append(pods[1:], bound("n2-c", "n2", 50, 3))
	n2 := nodes[1].DeepCopy()
	n2.Labels["extra"] = "x"
	nodes[1] = n2
	s, err = c.sync(ctx, nodes, ready, pods)
	require.NoError(t, err)
	require.NotEqual(t, gen, c.gen)
	require.Equal(t, map[string]int{"n1": 1, "n2": 3}, podCounts(t, s))
	ni, ok := s.(*simulator.ShareSnapshot).Cluster().NodeInfo("n2")
	require.True(t, ok)
	require.Equal(t, "x", ni.Node().Labels["extra"])

	// The same as a snapshot built from scratch.
	fresh, err := newSnapshotCache(base).sync(ctx, nodes, ready, pods)
	require.NoError(t, err)
	require.Equal(t, podCounts(t, fresh), podCounts(t, s))

	// n3 ready again: its pods come back.
	ready["n3"] = true
	s, err = c.sync(ctx, nodes, ready, pods)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"n1": 1, "n2": 3, "n3": 2}, podCounts(t, s))
}

func TestSnapshotCacheMemo(t *testing.T) {
	c := newSnapshotCache(simulator.NewScalarSnapshot())
	c.rotate()
	p1, p2 := bound("a", "n1", 25, 0), bound("b", "n1", 25, 1)
	c.storeFiltered(1, "", []*corev1.Pod{p1, p2}, []*corev1.Pod{p2})
	out, ok := c.filtered(1, "", []*corev1.Pod{p1, p2})
	require.True(t, ok)
	require.Equal(t, []*corev1.Pod{p2}, out)
	_, ok = c.filtered(2, "", []*corev1.Pod{p1, p2}) // the snapshot changed
	require.False(t, ok)
	_, ok = c.filtered(1, "g:1;", []*corev1.Pod{p1, p2}) // upcoming nodes changed
	require.False(t, ok)
	_, ok = c.filtered(1, "", []*corev1.Pod{p1, p2.DeepCopy()}) // a pod changed (no resourceVersion)
	require.False(t, ok)
	_, ok = c.filtered(1, "", []*corev1.Pod{p2, p1}) // another order
	require.False(t, ok)

	// Kept for the next loop, gone after two.
	c.rotate()
	_, ok = c.filtered(1, "", []*corev1.Pod{p1, p2})
	require.True(t, ok)
	c.rotate()
	c.rotate()
	_, ok = c.filtered(1, "", []*corev1.Pod{p1, p2})
	require.False(t, ok)
}

// Filter-out-schedulable places pending pods on the kept snapshot and takes
// them back: after the loop the snapshot is the cluster as it is, and the
// next loop over the same cluster decides the same.
func TestFilterSchedulableLeavesTheSnapshotAsItWas(t *testing.T) {
	cfg := testConfig(group("a", "A100", 2, 10, 1))
	e := newEnv(t, cfg, nil)
	nodes := e.register("a", 2, true)
	e.src.AddPod(bound("p0", nodes[0], 50, 0))
	e.src.AddPod(pending("fits-1", 50, "A100"))
	e.src.AddPod(pending("fits-2", 100, "A100"))
	e.src.AddPod(pending("needs-node", 100, "A100"))
	for i := range 3 {
		e.src.AddPod(pending(fmt.Sprintf("big-%d", i), 100, "A100"))
	}
	e.run(t0)
	require.Len(t, e.calls("IncreaseSize"), 1)
	delta := e.calls("IncreaseSize")[0].Delta

	kept := e.a.snap.snap
	require.Equal(t, map[string]int{nodes[0]: 1, nodes[1]: 0}, podCounts(t, kept))
	ws, err := e.a.snap.base.Empty(e.ctx)
	require.NoError(t, err)
	fresh := newSnapshotCache(ws)
	all, _ := e.src.Pods(e.ctx)
	nn, _ := e.src.Nodes(e.ctx)
	s, err := fresh.sync(e.ctx, nn, map[string]bool{nodes[0]: true, nodes[1]: true}, all)
	require.NoError(t, err)
	require.Equal(t, podCounts(t, s), podCounts(t, kept))

	// A fresh autoscaler on the kept snapshot asks for the same nodes.
	e2 := newEnv(t, cfg, nil)
	e2.src, e2.a.source = e.src, e.src
	e2.prov.Group("a").SetTargetSize(2)
	e2.a.snap = e.a.snap
	e2.run(t0)
	require.Len(t, e2.calls("IncreaseSize"), 1)
	require.Equal(t, delta, e2.calls("IncreaseSize")[0].Delta)
	require.Equal(t, podCounts(t, s), podCounts(t, e2.a.snap.snap))
}
