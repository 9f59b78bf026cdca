package fake

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
)

// Call is one recorded call.
type Call struct {
	Op    string // "IncreaseSize", "DeleteNodes", "DecreaseTargetSize"
	Group string
	Delta int
	Nodes []string
}

// Builder builds a Provider.
type Builder struct{ p *Provider }

// NewBuilder starts an empty provider.
func NewBuilder() *Builder {
	return &Builder{p: &Provider{groups: map[string]*Group{}}}
}

// WithGroup adds a group with the given current target size.
func (b *Builder) WithGroup(g config.NodeGroup, target int) *Builder {
	b.p.groups[g.Name] = &Group{p: b.p, cfg: g, target: target}
	b.p.order = append(b.p.order, g.Name)
	return b
}

// WithOnScaleUp sets a hook run after IncreaseSize is accepted; an error
// it returns fails the call (a stock-out).
func (b *Builder) WithOnScaleUp(f func(group string, delta int) error) *Builder {
	b.p.onScaleUp = f
	return b
}

// WithOnDelete sets a hook run for DeleteNodes.
func (b *Builder) WithOnDelete(f func(group string, nodes []string) error) *Builder {
	b.p.onDelete = f
	return b
}

// Build returns the provider.
func (b *Builder) Build() *Provider { return b.p }

// Provider is the fake CloudProvider.
type Provider struct {
	mu        sync.Mutex
	groups    map[string]*Group
	order     []string
	calls     []Call
	onScaleUp func(string, int) error
	onDelete  func(string, []string) error
}

var _ cloudprovider.CloudProvider = &Provider{}

// Name implements CloudProvider.
func (p *Provider) Name() string { return "fake" }

// NodeGroups implements CloudProvider.
func (p *Provider) NodeGroups() []cloudprovider.NodeGroup {
	out := make([]cloudprovider.NodeGroup, 0, len(p.order))
	for _, n := range p.order {
		out = append(out, p.groups[n])
	}
	return out
}

// NodeGroupForNode maps nodes by the gantry.dev/node-group label.
func (p *Provider) NodeGroupForNode(node *corev1.Node) (cloudprovider.NodeGroup, error) {
	if g, ok := p.groups[node.Labels[cloudprovider.LabelNodeGroup]]; ok {
		return g, nil
	}
	return nil, nil
}

// Refresh implements CloudProvider.
func (p *Provider) Refresh(context.Context) error { return nil }

// Calls returns the calls recorded so far.
func (p *Provider) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Group returns the named group.
func (p *Provider) Group(name string) *Group { return p.groups[name] }

func (p *Provider) record(c Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, c)
}

// Group is a fake NodeGroup.
type Group struct {
	p      *Provider
	cfg    config.NodeGroup
	target int
}

var _ cloudprovider.NodeGroup = &Group{}

// Id implements NodeGroup.
func (g *Group) Id() string { return g.cfg.Name }

// Config implements NodeGroup.
func (g *Group) Config() config.NodeGroup { return g.cfg }

// TargetSize implements NodeGroup.
func (g *Group) TargetSize() (int, error) { return g.target, nil }

// SetTargetSize changes the target behind the autoscaler's back.
func (g *Group) SetTargetSize(n int) { g.target = n }

// IncreaseSize implements NodeGroup.
func (g *Group) IncreaseSize(_ context.Context, delta int) error {
	g.p.record(Call{Op: "IncreaseSize", Group: g.cfg.Name, Delta: delta})
	if delta <= 0 {
		return fmt.Errorf("size increase must be positive, got %d", delta)
	}
	if g.target+delta > g.cfg.MaxSize {
		return fmt.Errorf("size increase too large: %d+%d above max %d", g.target, delta, g.cfg.MaxSize)
	}
	if g.p.onScaleUp != nil {
		if err := g.p.onScaleUp(g.cfg.Name, delta); err != nil {
			return err
		}
	}
	g.target += delta
	return nil
}

// DeleteNodes implements NodeGroup.
func (g *Group) DeleteNodes(_ context.Context, nodes []*corev1.Node) error {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	g.p.record(Call{Op: "DeleteNodes", Group: g.cfg.Name, Delta: len(nodes), Nodes: names})
	if g.p.onDelete != nil {
		if err := g.p.onDelete(g.cfg.Name, names); err != nil {
			return err
		}
	}
	g.target -= len(nodes)
	return nil
}

// DecreaseTargetSize implements NodeGroup.
func (g *Group) DecreaseTargetSize(_ context.Context, delta int) error {
	g.p.record(Call{Op: "DecreaseTargetSize", Group: g.cfg.Name, Delta: delta})
	g.target -= delta
	return nil
}

// TemplateNode implements NodeGroup.
func (g *Group) TemplateNode() (*corev1.Node, error) {
	return cloudprovider.BuildNode(g.cfg, cloudprovider.TemplateName(g.cfg.Name))
}

// Nodes implements NodeGroup.
func (g *Group) Nodes() ([]string, error) { return nil, cloudprovider.ErrNotImplemented }
