package simulate

import (
	"fmt"
	"sort"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// Cluster is an in-memory set of nodes and the pods bound to them. It
// implements the framework's SharedLister, so plugins read it exactly as
// they read kube-scheduler's snapshot.
type Cluster struct {
	*cache.Snapshot // for the listers Gantry does not populate (PVCs, pod groups)

	infos map[string]*framework.NodeInfo
	list  []fwk.NodeInfo
	// order sorts nodes; ties in score go to the node first in this order.
	order map[string]string
	// stale says list must be rebuilt from infos before it is read.
	stale bool
}

// NewCluster returns an empty cluster.
func NewCluster() *Cluster {
	return &Cluster{Snapshot: cache.NewEmptySnapshot(), infos: map[string]*framework.NodeInfo{}, order: map[string]string{}}
}

// AddNode adds or replaces a node, keeping the pods bound to it. sortKey
// orders nodes for tie-breaking (the node's name when empty).
func (c *Cluster) AddNode(node *v1.Node, sortKey string) {
	if sortKey == "" {
		sortKey = node.Name
	}
	if ni, ok := c.infos[node.Name]; ok {
		ni.SetNode(node)
		c.order[node.Name] = sortKey
		c.relist()
		return
	}
	ni := framework.NewNodeInfo()
	ni.SetNode(node)
	c.infos[node.Name] = ni
	c.order[node.Name] = sortKey
	c.relist()
}

// RemoveNode deletes a node and the pods on it.
func (c *Cluster) RemoveNode(name string) {
	delete(c.infos, name)
	delete(c.order, name)
	c.relist()
}

func (c *Cluster) relist() { c.stale = true }

// sorted returns the nodes in tie-break order, rebuilding the list after
// nodes were added or removed.
func (c *Cluster) sorted() []fwk.NodeInfo {
	if !c.stale {
		return c.list
	}
	c.stale = false
	c.list = c.list[:0]
	for _, ni := range c.infos {
		c.list = append(c.list, ni)
	}
	sort.Slice(c.list, func(i, j int) bool {
		return c.order[c.list[i].Node().Name] < c.order[c.list[j].Node().Name]
	})
	return c.list
}

// Bind adds pod to the node its spec names.
func (c *Cluster) Bind(pod *v1.Pod) error {
	ni, ok := c.infos[pod.Spec.NodeName]
	if !ok {
		return fmt.Errorf("pod %s/%s: node %q not in the cluster", pod.Namespace, pod.Name, pod.Spec.NodeName)
	}
	ni.AddPod(pod)
	return nil
}

// Unbind removes pod from its node.
func (c *Cluster) Unbind(pod *v1.Pod) error {
	ni, ok := c.infos[pod.Spec.NodeName]
	if !ok {
		return fmt.Errorf("pod %s/%s: node %q not in the cluster", pod.Namespace, pod.Name, pod.Spec.NodeName)
	}
	return ni.RemovePod(klog.Background(), pod)
}

// NodeInfo returns the node's info.
func (c *Cluster) NodeInfo(name string) (*framework.NodeInfo, bool) {
	ni, ok := c.infos[name]
	return ni, ok
}

// Nodes returns the nodes in tie-break order.
func (c *Cluster) Nodes() []fwk.NodeInfo { return c.sorted() }

// Len returns the number of nodes.
func (c *Cluster) Len() int { return len(c.infos) }

// Fork returns an independent copy: changes to either leave the other as
// it was (CA's clustersnapshot Fork, without the Revert bookkeeping).
func (c *Cluster) Fork() *Cluster {
	f := NewCluster()
	for name, ni := range c.infos {
		f.infos[name] = ni.SnapshotConcrete()
		f.order[name] = c.order[name]
	}
	f.relist()
	return f
}

// NodeInfos implements fwk.SharedLister.
func (c *Cluster) NodeInfos() fwk.NodeInfoLister { return lister{c} }

type lister struct{ c *Cluster }

func (l lister) List() ([]fwk.NodeInfo, error) { return l.c.sorted(), nil }

func (l lister) HavePodsWithAffinityList() ([]fwk.NodeInfo, error) {
	return l.filter(func(ni fwk.NodeInfo) bool { return len(ni.GetPodsWithAffinity()) > 0 }), nil
}

func (l lister) HavePodsWithRequiredAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.filter(func(ni fwk.NodeInfo) bool { return len(ni.GetPodsWithRequiredAntiAffinity()) > 0 }), nil
}

func (l lister) HavePodsWithRequiredNonHostScopedAntiAffinityList() ([]fwk.NodeInfo, error) {
	return l.filter(func(ni fwk.NodeInfo) bool { return len(ni.GetPodsWithRequiredNonHostScopedAntiAffinity()) > 0 }), nil
}

func (l lister) filter(keep func(fwk.NodeInfo) bool) []fwk.NodeInfo {
	var out []fwk.NodeInfo
	for _, ni := range l.c.sorted() {
		if keep(ni) {
			out = append(out, ni)
		}
	}
	return out
}

func (l lister) Get(name string) (fwk.NodeInfo, error) {
	ni, ok := l.c.infos[name]
	if !ok {
		return nil, fmt.Errorf("nodeinfo not found for node name %q", name)
	}
	return ni, nil
}
