package source

import (
	"context"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	resourceapi "k8s.io/api/resource/v1"
)

// Memory is an in-memory cluster.
type Memory struct {
	mu      sync.Mutex
	nodes   map[string]*corev1.Node
	pods    map[string]*corev1.Pod
	pdbs    []*policyv1.PodDisruptionBudget
	evicted []string
	// DRA objects, by name (claims by namespace/name).
	slices  map[string]*resourceapi.ResourceSlice
	classes map[string]*resourceapi.DeviceClass
	claims  map[string]*resourceapi.ResourceClaim
}

var (
	_ Source   = &Memory{}
	_ Unmarker = &Memory{}
)

// NewMemory returns an empty cluster.
func NewMemory() *Memory {
	return &Memory{nodes: map[string]*corev1.Node{}, pods: map[string]*corev1.Pod{},
		slices: map[string]*resourceapi.ResourceSlice{}, classes: map[string]*resourceapi.DeviceClass{}, claims: map[string]*resourceapi.ResourceClaim{}}
}

// AddNode adds or replaces a node.
func (m *Memory) AddNode(n *corev1.Node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[n.Name] = n
}

// DeleteNode removes a node, the pods bound to it and the ResourceSlices
// of its devices.
func (m *Memory) DeleteNode(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, name)
	m.deleteNodeSlices(name)
	for k, p := range m.pods {
		if p.Spec.NodeName == name {
			delete(m.pods, k)
		}
	}
}

// Node returns a node.
func (m *Memory) Node(name string) (*corev1.Node, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[name]
	return n, ok
}

// AddPod adds or replaces a pod.
func (m *Memory) AddPod(p *corev1.Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pods[p.Namespace+"/"+p.Name] = p
}

// DeletePod removes a pod.
func (m *Memory) DeletePod(namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pods, namespace+"/"+name)
}

// AddPDB adds or replaces (by namespace and name) a PodDisruptionBudget.
func (m *Memory) AddPDB(p *policyv1.PodDisruptionBudget) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, b := range m.pdbs {
		if b.Namespace == p.Namespace && b.Name == p.Name {
			m.pdbs[i] = p
			return
		}
	}
	m.pdbs = append(m.pdbs, p)
}

// Evicted returns the pods evicted so far (namespace/name).
func (m *Memory) Evicted() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.evicted...)
}

// Nodes implements Source, sorted by name.
func (m *Memory) Nodes(context.Context) ([]*corev1.Node, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*corev1.Node, 0, len(m.nodes))
	for _, n := range m.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Pods implements Source, sorted by namespace/name.
func (m *Memory) Pods(context.Context) ([]*corev1.Pod, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.pods))
	for k := range m.pods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*corev1.Pod, len(keys))
	for i, k := range keys {
		out[i] = m.pods[k]
	}
	return out, nil
}

// PodDisruptionBudgets implements Source.
func (m *Memory) PodDisruptionBudgets(context.Context) ([]*policyv1.PodDisruptionBudget, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*policyv1.PodDisruptionBudget(nil), m.pdbs...), nil
}

// MarkToBeDeleted implements Source.
func (m *Memory) MarkToBeDeleted(_ context.Context, name string) error {
	return m.editNode(name, markNode)
}

// UnmarkToBeDeleted implements Unmarker.
func (m *Memory) UnmarkToBeDeleted(_ context.Context, name string) error {
	return m.editNode(name, unmarkNode)
}

// editNode replaces the named node with an edited copy, so that objects
// already handed out never change under their readers.
func (m *Memory) editNode(name string, edit func(*corev1.Node)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[name]
	if !ok {
		return fmt.Errorf("node %q not found", name)
	}
	n = n.DeepCopy()
	edit(n)
	m.nodes[name] = n
	return nil
}

// Evict implements Source: the pod is removed at once, unless a
// PodDisruptionBudget covering it allows no disruption (status
// disruptionsAllowed, which each eviction lowers, as the API server does).
func (m *Memory) Evict(_ context.Context, p *corev1.Pod) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := p.Namespace + "/" + p.Name
	if _, ok := m.pods[k]; !ok {
		return fmt.Errorf("pod %s not found", k)
	}
	var covering []int
	for i, b := range m.pdbs {
		if PDBMatches(b, p) {
			covering = append(covering, i)
		}
	}
	for _, i := range covering {
		if m.pdbs[i].Status.DisruptionsAllowed < 1 {
			return &EvictionRefusedError{Pod: k, Err: fmt.Errorf("PodDisruptionBudget %s/%s allows no disruption", m.pdbs[i].Namespace, m.pdbs[i].Name)}
		}
	}
	for _, i := range covering {
		b := m.pdbs[i].DeepCopy()
		b.Status.DisruptionsAllowed--
		m.pdbs[i] = b
	}
	delete(m.pods, k)
	m.evicted = append(m.evicted, k)
	return nil
}
