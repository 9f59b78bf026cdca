package source

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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
	// Evict asks for the pod to leave its node, honouring every
	// PodDisruptionBudget: an eviction a budget refuses now returns an
	// error for which IsEvictionRefused is true.
	Evict(ctx context.Context, pod *corev1.Pod) error
}

// TerminationWaiter is implemented by sources where an accepted eviction
// only starts the pod's graceful stop: the autoscaler deletes a node only
// once PodGone holds for every pod it evicted from it. (Sources whose
// Evict removes the pod at once need not implement it.)
type TerminationWaiter interface {
	// PodGone reports whether the pod (namespace, name and UID) no
	// longer exists.
	PodGone(ctx context.Context, pod *corev1.Pod) (bool, error)
}

// PDBMatches reports whether a PodDisruptionBudget covers a pod, as the
// policy/v1 Eviction API decides: same namespace and the selector matches,
// where an empty selector ({}) matches every pod of the namespace and a
// missing one none. A selector that does not parse is taken to match
// every pod of the namespace, so that it never lets a pod go unguarded.
func PDBMatches(pdb *policyv1.PodDisruptionBudget, pod *corev1.Pod) bool {
	if pdb.Namespace != pod.Namespace {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return true
	}
	return sel.Matches(labels.Set(pod.Labels))
}

// Unmarker is implemented by sources that can take back MarkToBeDeleted:
// a scale-down that fails after marking its node, and a restart that finds
// nodes marked by an earlier run, unmark them so they take pods again.
// (An interface of its own, so that sources outside this module keep
// compiling; both sources here implement it.)
type Unmarker interface {
	// UnmarkToBeDeleted removes TaintToBeDeleted and uncordons the node.
	UnmarkToBeDeleted(ctx context.Context, node string) error
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

func unmarkNode(n *corev1.Node) {
	n.Spec.Unschedulable = false
	var keep []corev1.Taint
	for _, t := range n.Spec.Taints {
		if t.Key != TaintToBeDeleted {
			keep = append(keep, t)
		}
	}
	n.Spec.Taints = keep
}

func markNode(n *corev1.Node) {
	n.Spec.Unschedulable = true
	if !HasToBeDeleted(n) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: TaintToBeDeleted, Value: "gantry-autoscaler", Effect: corev1.TaintEffectNoSchedule})
	}
}
