package simulator

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/autoscaler/utils/podutil"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// ScalarSnapshot is the node-level baseline: a node fits a pod when the
// sums of free CPU, memory, pod slots and share units of each kind cover
// the pod's requests and the node's model label is one the pod accepts.
// Two free halves on two cards look like one free card, as they do to
// Cluster Autoscaler. Taints and affinity are not checked.
type ScalarSnapshot struct {
	nodes map[string]*scalarNode
	order []string
}

type scalarNode struct {
	node  *corev1.Node
	free  map[string]int64
	pods  map[string]*corev1.Pod
	model map[device.Kind]string
}

var _ Snapshot = &ScalarSnapshot{}

// NewScalarSnapshot returns an empty baseline snapshot.
func NewScalarSnapshot() *ScalarSnapshot { return &ScalarSnapshot{nodes: map[string]*scalarNode{}} }

func demand(pod *corev1.Pod) map[string]int64 {
	c, m := podutil.Requests(pod)
	d := map[string]int64{"cpu": c, "mem": m, "pods": 1}
	if req, err := share.Parse(pod); err == nil {
		for _, k := range device.Kinds {
			d[string(k)] = int64(req.Total(k))
		}
	}
	return d
}

// AddNode implements Snapshot.
func (s *ScalarSnapshot) AddNode(node *corev1.Node) {
	a := node.Status.Allocatable
	sn := &scalarNode{node: node, pods: map[string]*corev1.Pod{}, model: map[device.Kind]string{}, free: map[string]int64{
		"cpu": a.Cpu().MilliValue(), "mem": a.Memory().Value() >> 20, "pods": a.Pods().Value(),
	}}
	for _, k := range device.Kinds {
		q := a[contract.ResourceFor(k)]
		sn.free[string(k)] = q.Value()
		sn.model[k] = node.Labels[contract.ModelLabelFor(k)]
	}
	if old, ok := s.nodes[node.Name]; ok {
		for _, p := range old.pods {
			for r, v := range demand(p) {
				sn.free[r] -= v
			}
			sn.pods[podutil.Key(p)] = p
		}
	} else {
		s.order = append(s.order, node.Name)
	}
	s.nodes[node.Name] = sn
}

// RemoveNode implements Snapshot.
func (s *ScalarSnapshot) RemoveNode(name string) {
	delete(s.nodes, name)
	for i, n := range s.order {
		if n == name {
			s.order = append(s.order[:i:i], s.order[i+1:]...)
			break
		}
	}
}

// AddPod implements Snapshot.
func (s *ScalarSnapshot) AddPod(pod *corev1.Pod) error {
	sn, ok := s.nodes[pod.Spec.NodeName]
	if !ok {
		return fmt.Errorf("pod %s: node %q not in the snapshot", podutil.Key(pod), pod.Spec.NodeName)
	}
	for r, v := range demand(pod) {
		sn.free[r] -= v
	}
	sn.pods[podutil.Key(pod)] = pod
	return nil
}

// RemovePod implements Snapshot.
func (s *ScalarSnapshot) RemovePod(pod *corev1.Pod) error {
	sn, ok := s.nodes[pod.Spec.NodeName]
	if !ok {
		return fmt.Errorf("pod %s: node %q not in the snapshot", podutil.Key(pod), pod.Spec.NodeName)
	}
	if _, ok := sn.pods[podutil.Key(pod)]; ok {
		for r, v := range demand(pod) {
			sn.free[r] += v
		}
		delete(sn.pods, podutil.Key(pod))
	}
	return nil
}

// Schedule implements Snapshot: the fitting node with the fewest free
// share units (binpacking), first in order on ties.
func (s *ScalarSnapshot) Schedule(_ context.Context, pod *corev1.Pod) (string, *corev1.Pod, string, error) {
	d := demand(pod)
	req, _ := share.Parse(pod)
	best, bestFree := "", int64(-1)
	for _, name := range s.order {
		sn := s.nodes[name]
		if !s.fits(sn, d, req) {
			continue
		}
		f := sn.free[string(device.GPU)] + sn.free[string(device.NPU)]
		if best == "" || f < bestFree {
			best, bestFree = name, f
		}
	}
	if best == "" {
		return "", nil, fmt.Sprintf("0/%d nodes are available: insufficient summed capacity.", len(s.order)), nil
	}
	bound := pod.DeepCopy()
	bound.Spec.NodeName = best
	if err := s.AddPod(bound); err != nil {
		return "", nil, "", err
	}
	return best, bound, "", nil
}

func (s *ScalarSnapshot) fits(sn *scalarNode, d map[string]int64, req *share.Request) bool {
	for r, v := range d {
		if v > 0 && sn.free[r] < v {
			return false
		}
	}
	if req != nil {
		for _, k := range req.Kinds() {
			if !req.Allows(k, sn.model[k]) {
				return false
			}
		}
	}
	return true
}

// Fork implements Snapshot.
func (s *ScalarSnapshot) Fork(context.Context) (Snapshot, error) {
	f := NewScalarSnapshot()
	f.order = append([]string(nil), s.order...)
	for name, sn := range s.nodes {
		c := &scalarNode{node: sn.node, free: map[string]int64{}, pods: make(map[string]*corev1.Pod, len(sn.pods)), model: sn.model}
		for k, v := range sn.free {
			c.free[k] = v
		}
		for k, v := range sn.pods {
			c.pods[k] = v
		}
		f.nodes[name] = c
	}
	return f, nil
}

// Empty implements Snapshot.
func (s *ScalarSnapshot) Empty(context.Context) (Snapshot, error) { return NewScalarSnapshot(), nil }

// Len implements Snapshot.
func (s *ScalarSnapshot) Len() int { return len(s.order) }
