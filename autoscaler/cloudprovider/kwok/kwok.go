package kwok

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
)

const (
	// AnnotationNode marks a node KWOK manages (value "fake").
	AnnotationNode = "kwok.x-k8s.io/node"
	// AnnotationOwner is this provider's record of the nodes it created:
	// it is written at creation with the group's name. A node is the
	// provider's only when it carries it and is a KWOK node; the
	// gantry.dev/node-group label alone, which anyone labelling a node may
	// set, never makes a node deletable.
	AnnotationOwner = "gantry.dev/kwok-provider-node-group"
)

// Provider creates and deletes KWOK nodes.
type Provider struct {
	client kubernetes.Interface
	nodes  corelisters.NodeLister
	groups []*Group
	byName map[string]*Group
}

var _ cloudprovider.CloudProvider = &Provider{}

// New returns a provider for the configured groups; it counts nodes from
// the lister (an informer's cache) and creates and deletes them through
// client.
func New(client kubernetes.Interface, nodes corelisters.NodeLister, groups []config.NodeGroup) *Provider {
	p := &Provider{client: client, nodes: nodes, byName: map[string]*Group{}}
	for _, g := range groups {
		grp := &Group{p: p, cfg: g}
		p.groups = append(p.groups, grp)
		p.byName[g.Name] = grp
	}
	return p
}

// Name implements CloudProvider.
func (p *Provider) Name() string { return "kwok" }

// NodeGroups implements CloudProvider.
func (p *Provider) NodeGroups() []cloudprovider.NodeGroup {
	out := make([]cloudprovider.NodeGroup, len(p.groups))
	for i, g := range p.groups {
		out[i] = g
	}
	return out
}

// owner returns the group that created n, or nil: only KWOK nodes with
// this provider's AnnotationOwner record belong to a group.
func (p *Provider) owner(n *corev1.Node) *Group {
	if n.Annotations[AnnotationNode] != "fake" {
		return nil
	}
	return p.byName[n.Annotations[AnnotationOwner]]
}

// NodeGroupForNode implements CloudProvider by the provider's record
// (AnnotationOwner on a KWOK node), never by the node-group label.
func (p *Provider) NodeGroupForNode(n *corev1.Node) (cloudprovider.NodeGroup, error) {
	if g := p.owner(n); g != nil {
		return g, nil
	}
	return nil, nil
}

// Refresh counts each group's nodes: a KWOK group's target is the nodes
// it created that exist, as they appear the moment they are created.
func (p *Provider) Refresh(context.Context) error {
	nodes, err := p.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	counts := map[string][]string{}
	for _, n := range nodes {
		if g := p.owner(n); g != nil && n.DeletionTimestamp == nil {
			counts[g.cfg.Name] = append(counts[g.cfg.Name], n.Name)
		}
	}
	for _, g := range p.groups {
		g.mu.Lock()
		g.nodes = counts[g.cfg.Name]
		g.mu.Unlock()
	}
	return nil
}

// Group is a KWOK node group.
type Group struct {
	p     *Provider
	cfg   config.NodeGroup
	mu    sync.Mutex
	nodes []string
	seq   int
}

var _ cloudprovider.NodeGroup = &Group{}

// Id implements NodeGroup.
func (g *Group) Id() string { return g.cfg.Name }

// Config implements NodeGroup.
func (g *Group) Config() config.NodeGroup { return g.cfg }

// TargetSize implements NodeGroup.
func (g *Group) TargetSize() (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.nodes), nil
}

// IncreaseSize creates delta nodes.
func (g *Group) IncreaseSize(ctx context.Context, delta int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if delta <= 0 {
		return fmt.Errorf("size increase must be positive, got %d", delta)
	}
	if len(g.nodes)+delta > g.cfg.MaxSize {
		return fmt.Errorf("size increase too large: %d+%d above max %d", len(g.nodes), delta, g.cfg.MaxSize)
	}
	for i := 0; i < delta; i++ {
		n, err := g.newNode()
		if err != nil {
			return err
		}
		for {
			_, err = g.p.client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
			if !apierrors.IsAlreadyExists(err) {
				break
			}
			if n, err = g.newNode(); err != nil {
				return err
			}
		}
		if err != nil {
			return fmt.Errorf("creating node %q: %w", n.Name, err)
		}
		g.nodes = append(g.nodes, n.Name)
	}
	return nil
}

func (g *Group) newNode() (*corev1.Node, error) {
	g.seq++
	n, err := cloudprovider.BuildNode(g.cfg, fmt.Sprintf("%s-%d-%d", g.cfg.Name, len(g.nodes), g.seq))
	if err != nil {
		return nil, err
	}
	n.Annotations[AnnotationNode] = "fake"
	n.Annotations[AnnotationOwner] = g.cfg.Name
	n.Labels["type"] = "kwok"
	n.Labels[corev1.LabelOSStable] = "linux"
	n.Labels[corev1.LabelArchStable] = "amd64"
	// KWOK sets the status (conditions) itself; the status written here
	// is the allocatable and capacity the scheduler reads.
	return n, nil
}

// DeleteNodes deletes the nodes, each only if this group created it; the
// delete is conditional on the UID seen, so a node recreated under the
// same name by someone else is never deleted.
func (g *Group) DeleteNodes(ctx context.Context, nodes []*corev1.Node) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range nodes {
		if g.p.owner(n) != g {
			return fmt.Errorf("node %q: %w", n.Name, &cloudprovider.NotOwnedError{Provider: "kwok", Group: g.cfg.Name})
		}
		opts := metav1.DeleteOptions{}
		if n.UID != "" {
			opts.Preconditions = metav1.NewUIDPreconditions(string(n.UID))
		}
		if err := g.p.client.CoreV1().Nodes().Delete(ctx, n.Name, opts); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting node %q: %w", n.Name, err)
		}
		for i, name := range g.nodes {
			if name == n.Name {
				g.nodes = append(g.nodes[:i:i], g.nodes[i+1:]...)
				break
			}
		}
	}
	return nil
}

// DecreaseTargetSize has nothing to withdraw: KWOK nodes exist once created.
func (g *Group) DecreaseTargetSize(context.Context, int) error { return nil }

// TemplateNode implements NodeGroup.
func (g *Group) TemplateNode() (*corev1.Node, error) {
	return cloudprovider.BuildNode(g.cfg, cloudprovider.TemplateName(g.cfg.Name))
}

// Nodes implements NodeGroup.
func (g *Group) Nodes() ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.nodes...), nil
}
