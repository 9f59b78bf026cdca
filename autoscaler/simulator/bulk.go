package simulator

import (
	"runtime"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/scheduler/simulate"
)

var _ BulkAdder = &ShareSnapshot{}

// AddPods implements BulkAdder: the framework's per-pod bookkeeping
// (NodeInfo.AddPod) and core's are per node, so nodes are filled in
// parallel, each node's pods in order.
func (s *ShareSnapshot) AddPods(pods []*corev1.Pod) error {
	byNode := map[string][]*corev1.Pod{}
	var nodes []string
	for _, p := range pods {
		if _, ok := byNode[p.Spec.NodeName]; !ok {
			nodes = append(nodes, p.Spec.NodeName)
		}
		byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
	}
	workers := min(runtime.GOMAXPROCS(0), len(nodes))
	if workers <= 1 || len(pods) < 256 {
		for _, p := range pods {
			if err := s.AddPod(p); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, workers)
	// Worker w takes every workers-th node: no two workers touch the same
	// NodeInfo or NodeState, and the maps holding them are only read.
	simulate.Striped(workers, len(nodes), func(w, i int) {
		for _, p := range byNode[nodes[i]] {
			if err := s.cluster.Bind(p); err != nil {
				if errs[w] == nil {
					errs[w] = err
				}
				continue
			}
			s.hold(p)
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
