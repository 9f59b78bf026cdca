package estimator

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/autoscaler/simulator"
	"github.com/gantry-dev/gantry/autoscaler/utils/podutil"
)

// Node is a template node the estimate adds, with the pods it got.
type Node struct {
	Node *corev1.Node
	Pods []*corev1.Pod
}

// Result is one estimate.
type Result struct {
	// Nodes are the new nodes that got pods.
	Nodes []Node
	// Scheduled are the pods the new nodes take (bound copies).
	Scheduled []*corev1.Pod
	// Unfit maps a pod (namespace/name) that fits not even an empty
	// template node to the scheduler's reason.
	Unfit map[string]string
	// Capped is set when a node or time limit stopped the estimate.
	Capped bool
}

// Estimator estimates the nodes of one template that pods need.
type Estimator interface {
	Estimate(ctx context.Context, pods []*corev1.Pod, template func(name string) (simulator.NodeInfo, error), maxNodes int) (Result, error)
}

// BinpackingEstimator is first-fit decreasing over an empty snapshot.
type BinpackingEstimator struct {
	// Base makes the empty snapshots the estimate runs on.
	Base simulator.Snapshot
	// MaxDuration caps one estimate; 0 means none.
	MaxDuration time.Duration
	// Now reads the time for MaxDuration (time.Now when nil). The cap is
	// on computation, so it reads a real clock, never the loop's time.
	Now func() time.Time
	// Prefix names the template nodes: Prefix-0, Prefix-1, ...
	Prefix string
	// Units returns a pod's device units for first-fit decreasing order
	// (podutil.Units when nil; in DRA mode they are in its claims).
	Units func(*corev1.Pod) int
}

var _ Estimator = &BinpackingEstimator{}

// Estimate places pods, largest first, on template nodes added only when a
// pod fits none of those added so far. A pod that does not fit a fresh
// template node is reported in Unfit with the scheduler's reason and never
// causes a node; its equivalent pods are skipped.
func (e *BinpackingEstimator) Estimate(ctx context.Context, pods []*corev1.Pod, template func(string) (simulator.NodeInfo, error), maxNodes int) (Result, error) {
	now := e.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	snap, err := e.Base.Empty(ctx)
	if err != nil {
		return Result{}, err
	}
	sorted := append([]*corev1.Pod(nil), pods...)
	units := e.Units
	if units == nil {
		units = podutil.Units
	}
	podutil.SortLargestFirstBy(sorted, units)
	res := Result{Unfit: map[string]string{}}
	unfitClass := map[string]string{}
	byNode := map[string]*Node{}
	var order []string
	for _, pod := range sorted {
		class := podutil.EquivalenceKey(pod)
		if r, ok := unfitClass[class]; ok {
			res.Unfit[podutil.Key(pod)] = r
			continue
		}
		node, bound, _, err := snap.Schedule(ctx, pod)
		if err != nil {
			return Result{}, err
		}
		if node == "" {
			if len(order) >= maxNodes || (e.MaxDuration > 0 && now().Sub(start) > e.MaxDuration) {
				res.Capped = true
				continue
			}
			name := fmt.Sprintf("%s-%d", e.Prefix, len(order))
			t, err := template(name)
			if err != nil {
				return Result{}, err
			}
			simulator.AddNodeInfo(snap, t)
			var reason string
			node, bound, reason, err = snap.Schedule(ctx, pod)
			if err != nil {
				return Result{}, err
			}
			if node == "" {
				snap.RemoveNode(name)
				unfitClass[class] = reason
				res.Unfit[podutil.Key(pod)] = reason
				continue
			}
			byNode[name] = &Node{Node: t.Node}
			order = append(order, name)
		}
		byNode[node].Pods = append(byNode[node].Pods, bound)
		res.Scheduled = append(res.Scheduled, bound)
	}
	for _, name := range order {
		res.Nodes = append(res.Nodes, *byNode[name])
	}
	return res, nil
}
