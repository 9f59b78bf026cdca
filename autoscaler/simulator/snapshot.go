package simulator

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// Snapshot is a set of nodes and bound pods that can be forked and in
// which pods can be placed.
type Snapshot interface {
	// AddNode adds or replaces a node, keeping its pods.
	AddNode(node *corev1.Node)
	// RemoveNode removes a node and its pods.
	RemoveNode(name string)
	// AddPod records a pod bound to pod.Spec.NodeName.
	AddPod(pod *corev1.Pod) error
	// RemovePod forgets a bound pod.
	RemovePod(pod *corev1.Pod) error
	// Schedule places pod on the best node that fits and records it
	// there; it returns the node and the bound copy, or the reason no node
	// fits. err is set, and no node, when the placement itself failed (an
	// internal framework error): that says nothing about whether pod
	// fits, and callers must not act on it as if it did not.
	Schedule(ctx context.Context, pod *corev1.Pod) (node string, bound *corev1.Pod, reason string, err error)
	// Fork returns an independent copy.
	Fork(ctx context.Context) (Snapshot, error)
	// Empty returns a new snapshot of the same kind with no nodes.
	Empty(ctx context.Context) (Snapshot, error)
	// Len returns the number of nodes.
	Len() int
}

// BulkAdder is implemented by snapshots that record many bound pods at
// once, the pods of different nodes in parallel; the result is the same as
// AddPod for each pod in order.
type BulkAdder interface {
	AddPods(pods []*corev1.Pod) error
}

// AddPods records pods with AddPods when s has it, else with AddPod.
func AddPods(s Snapshot, pods []*corev1.Pod) error {
	if b, ok := s.(BulkAdder); ok {
		return b.AddPods(pods)
	}
	for _, p := range pods {
		if err := s.AddPod(p); err != nil {
			return err
		}
	}
	return nil
}
