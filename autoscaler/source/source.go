package source

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// TaintToBeDeleted marks a node the autoscaler is removing; the scheduler
// places nothing new there.
const TaintToBeDeleted = "gantry.dev/to-be-deleted"

// Source lists the cluster and acts on it.
type Source interface {
	Nodes(ctx context.Context) ([]*corev1.Node, error)
	Pods(ctx context.Context) ([]*corev1.Pod, error)
	PodDisruptionBudgets(ctx context.Context) ([]*policyv1.PodDisruptionBudget, error)
	// MarkToBeDeleted cordons the node and taints it TaintToBeDeleted.
	MarkToBeDeleted(ctx context.Context, node string) error
	// Evict moves a pod off its node (eviction, or deletion where the
	// source is told to delete).
	Evict(ctx context.Context, pod *corev1.Pod) error
}

// HasToBeDeleted reports whether node carries TaintToBeDeleted.
func HasToBeDeleted(node *corev1.Node) bool {
	for _, t := range node.Spec.Taints {
		if t.Key == TaintToBeDeleted {
			return true
		}
	}
	return false
}

func markNode(n *corev1.Node) {
	n.Spec.Unschedulable = true
	if !HasToBeDeleted(n) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: TaintToBeDeleted, Value: "gantry-autoscaler", Effect: corev1.TaintEffectNoSchedule})
	}
}
