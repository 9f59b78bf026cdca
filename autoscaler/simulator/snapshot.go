package simulator

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
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

// DRASnapshot is implemented by snapshots that can simulate DRA claims
// (ShareSnapshot; DRA reports whether this one does): ResourceSlices of
// its nodes, DeviceClasses, and ResourceClaims with their allocations,
// which the real DRA plugin reads and allocates while pods are placed.
type DRASnapshot interface {
	// DRA reports whether the snapshot simulates claims.
	DRA() bool
	// AddSlices adds the ResourceSlices of a node added with AddNode;
	// RemoveNode removes them with the node.
	AddSlices(slices []*resourceapi.ResourceSlice)
	// SetDRAObjects replaces every slice, class and claim.
	SetDRAObjects(slices []*resourceapi.ResourceSlice, classes []*resourceapi.DeviceClass, claims []*resourceapi.ResourceClaim)
	// AddClaim adds or replaces a claim.
	AddClaim(c *resourceapi.ResourceClaim)
	// Claim returns a claim as the simulation has it.
	Claim(namespace, name string) (*resourceapi.ResourceClaim, bool)
}

// AsDRA returns s as a DRASnapshot when it simulates claims.
func AsDRA(s Snapshot) (DRASnapshot, bool) {
	d, ok := s.(DRASnapshot)
	if !ok || !d.DRA() {
		return nil, false
	}
	return d, true
}

// NodeInfo is a node as a simulation adds it: the Node object and, in
// DRA mode, the ResourceSlices its driver publishes.
type NodeInfo struct {
	Node   *corev1.Node
	Slices []*resourceapi.ResourceSlice
}

// AddNodeInfo adds n to s; its slices only where s simulates claims (a
// snapshot that does not sees a DRA node's cards as absent).
func AddNodeInfo(s Snapshot, n NodeInfo) {
	s.AddNode(n.Node)
	if d, ok := AsDRA(s); ok && len(n.Slices) > 0 {
		d.AddSlices(n.Slices)
	}
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
