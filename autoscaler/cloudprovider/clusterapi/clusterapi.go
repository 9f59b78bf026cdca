package clusterapi

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// Annotations read from a MachineDeployment.
const (
	AnnotationMinSize          = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
	AnnotationMaxSize          = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
	AnnotationDeleteMachine    = "cluster.x-k8s.io/delete-machine"
	AnnotationTemplatePrefix   = "gantry.dev/template-"
	AnnotationTemplateGPUModel = AnnotationTemplatePrefix + "gpu-model"
	AnnotationTemplateGPUCount = AnnotationTemplatePrefix + "gpu-count"
	AnnotationTemplateGPUMem   = AnnotationTemplatePrefix + "gpu-memory-mib"
	AnnotationTemplateNPUModel = AnnotationTemplatePrefix + "npu-model"
	AnnotationTemplateNPUCount = AnnotationTemplatePrefix + "npu-count"
	AnnotationTemplateCPU      = AnnotationTemplatePrefix + "cpu"
	AnnotationTemplateMemory   = AnnotationTemplatePrefix + "memory"
	AnnotationTemplateZone     = AnnotationTemplatePrefix + "zone"
)

// Resources served by Cluster API.
var (
	MachineDeployments = clusterv1.GroupVersion.WithResource("machinedeployments")
	Machines           = clusterv1.GroupVersion.WithResource("machines")
)

// Provider resizes MachineDeployments.
type Provider struct {
	client dynamic.Interface
	groups []*Group
}

var _ cloudprovider.CloudProvider = &Provider{}

// New returns a provider; each group's ProviderRef is "namespace/name" of
// its MachineDeployment.
func New(client dynamic.Interface, groups []config.NodeGroup) (*Provider, error) {
	p := &Provider{client: client}
	for _, g := range groups {
		ns, name, ok := strings.Cut(g.ProviderRef, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("node group %q: providerRef %q is not namespace/name of a MachineDeployment", g.Name, g.ProviderRef)
		}
		p.groups = append(p.groups, &Group{p: p, cfg: g, namespace: ns, name: name})
	}
	return p, nil
}

// Name implements CloudProvider.
func (p *Provider) Name() string { return "clusterapi" }

// NodeGroups implements CloudProvider.
func (p *Provider) NodeGroups() []cloudprovider.NodeGroup {
	out := make([]cloudprovider.NodeGroup, len(p.groups))
	for i, g := range p.groups {
		out[i] = g
	}
	return out
}

// NodeGroupForNode maps a node to the group whose MachineDeployment owns
// a Machine with the node's spec.providerID (as Cluster Autoscaler's
// clusterapi provider does). Labels and annotations on the Node, which
// whoever may write the Node can set, are not consulted.
func (p *Provider) NodeGroupForNode(n *corev1.Node) (cloudprovider.NodeGroup, error) {
	if n.Spec.ProviderID == "" {
		return nil, nil
	}
	for _, g := range p.groups {
		g.mu.Lock()
		_, ok := g.machines[n.Spec.ProviderID]
		g.mu.Unlock()
		if ok {
			return g, nil
		}
	}
	return nil, nil
}

// Refresh reads every MachineDeployment and the Machines labelled with its
// name (cluster.x-k8s.io/deployment-name, set by the MachineSet
// controller), which are the provider's record of the nodes it owns.
func (p *Provider) Refresh(ctx context.Context) error {
	for _, g := range p.groups {
		u, err := p.client.Resource(MachineDeployments).Namespace(g.namespace).Get(ctx, g.name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("node group %q: getting MachineDeployment %s/%s: %w", g.cfg.Name, g.namespace, g.name, err)
		}
		var md clusterv1.MachineDeployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &md); err != nil {
			return fmt.Errorf("node group %q: decoding MachineDeployment: %w", g.cfg.Name, err)
		}
		cfg, err := fromAnnotations(g.cfg, md.Annotations)
		if err != nil {
			return fmt.Errorf("node group %q: MachineDeployment %s/%s: %w", g.cfg.Name, g.namespace, g.name, err)
		}
		machines, err := p.machines(ctx, g)
		if err != nil {
			return err
		}
		g.mu.Lock()
		g.effective = &cfg
		g.machines = machines
		g.target = 0
		if md.Spec.Replicas != nil {
			g.target = int(*md.Spec.Replicas)
		}
		g.mu.Unlock()
	}
	return nil
}

// machines returns providerID -> Machine name for the group's Machines
// that have a providerID (a Machine without one has no node yet).
func (p *Provider) machines(ctx context.Context, g *Group) (map[string]string, error) {
	sel := labels.Set{clusterv1.MachineDeploymentNameLabel: g.name}.AsSelector().String()
	l, err := p.client.Resource(Machines).Namespace(g.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("node group %q: listing Machines of MachineDeployment %s/%s: %w", g.cfg.Name, g.namespace, g.name, err)
	}
	out := map[string]string{}
	for _, u := range l.Items {
		id, _, err := unstructured.NestedString(u.Object, "spec", "providerID")
		if err != nil {
			return nil, fmt.Errorf("node group %q: Machine %s/%s: spec.providerID: %w", g.cfg.Name, g.namespace, u.GetName(), err)
		}
		if id != "" && u.GetDeletionTimestamp() == nil {
			out[id] = u.GetName()
		}
	}
	return out, nil
}

// fromAnnotations overlays a MachineDeployment's annotations on cfg.
func fromAnnotations(cfg config.NodeGroup, a map[string]string) (config.NodeGroup, error) {
	atoi := func(key string, dst *int) error {
		if v, ok := a[key]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("annotation %s=%q is not a non-negative integer", key, v)
			}
			*dst = n
		}
		return nil
	}
	qty := func(key string, dst *resource.Quantity) error {
		if v, ok := a[key]; ok {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return fmt.Errorf("annotation %s=%q: %w", key, v, err)
			}
			*dst = q
		}
		return nil
	}
	t := &cfg.Template
	t.Labels = copyMap(t.Labels)
	for _, f := range []func() error{
		func() error { return atoi(AnnotationMinSize, &cfg.MinSize) },
		func() error { return atoi(AnnotationMaxSize, &cfg.MaxSize) },
		func() error { return qty(AnnotationTemplateCPU, &t.CPU) },
		func() error { return qty(AnnotationTemplateMemory, &t.Memory) },
	} {
		if err := f(); err != nil {
			return cfg, err
		}
	}
	for _, k := range []struct {
		kind         device.Kind
		model, count string
	}{{device.GPU, AnnotationTemplateGPUModel, AnnotationTemplateGPUCount}, {device.NPU, AnnotationTemplateNPUModel, AnnotationTemplateNPUCount}} {
		m, ok := a[k.model]
		if !ok {
			continue
		}
		if !device.ValidModel(m) {
			return cfg, fmt.Errorf("annotation %s=%q is not a valid model", k.model, m)
		}
		t.Device.Kind, t.Device.Model = k.kind, m
		if t.Device.Count == 0 {
			t.Device.Count = 1
		}
		if err := atoi(k.count, &t.Device.Count); err != nil {
			return cfg, err
		}
		if t.Device.Count < 1 || t.Device.Count > share.MaxDevices {
			return cfg, fmt.Errorf("annotation %s=%d is out of range 1..%d", k.count, t.Device.Count, share.MaxDevices)
		}
	}
	if v, ok := a[AnnotationTemplateGPUMem]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cfg, fmt.Errorf("annotation %s=%q is not an integer", AnnotationTemplateGPUMem, v)
		}
		t.Device.MemoryMiB = n
	}
	if z, ok := a[AnnotationTemplateZone]; ok {
		t.Zone = z
	}
	if cfg.MaxSize < cfg.MinSize {
		return cfg, fmt.Errorf("max size %d below min size %d", cfg.MaxSize, cfg.MinSize)
	}
	return cfg, nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Group is one MachineDeployment.
type Group struct {
	p               *Provider
	cfg             config.NodeGroup
	namespace, name string
	mu              sync.Mutex
	effective       *config.NodeGroup
	target          int
	// machines maps providerID to Machine name, as of the last Refresh.
	machines map[string]string
}

var _ cloudprovider.NodeGroup = &Group{}

// Id implements NodeGroup.
func (g *Group) Id() string { return g.cfg.Name }

// Config implements NodeGroup: the configured group with the
// MachineDeployment's annotations applied, once Refresh has read them.
func (g *Group) Config() config.NodeGroup {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.effective != nil {
		return *g.effective
	}
	return g.cfg
}

// TargetSize implements NodeGroup: spec.replicas.
func (g *Group) TargetSize() (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.target, nil
}

// setReplicas writes spec.replicas through the scale subresource.
func (g *Group) setReplicas(ctx context.Context, delta int) error {
	r := g.p.client.Resource(MachineDeployments).Namespace(g.namespace)
	scale, err := r.Get(ctx, g.name, metav1.GetOptions{}, "scale")
	if err != nil {
		return fmt.Errorf("getting scale of MachineDeployment %s/%s: %w", g.namespace, g.name, err)
	}
	cur, _, err := unstructured.NestedInt64(scale.Object, "spec", "replicas")
	if err != nil {
		return fmt.Errorf("reading scale of MachineDeployment %s/%s: %w", g.namespace, g.name, err)
	}
	want := int(cur) + delta
	cfg := g.Config()
	if want < 0 || want > cfg.MaxSize {
		return fmt.Errorf("MachineDeployment %s/%s: %d replicas outside 0..%d", g.namespace, g.name, want, cfg.MaxSize)
	}
	if err := unstructured.SetNestedField(scale.Object, int64(want), "spec", "replicas"); err != nil {
		return err
	}
	if _, err := r.Update(ctx, scale, metav1.UpdateOptions{}, "scale"); err != nil {
		return fmt.Errorf("scaling MachineDeployment %s/%s to %d: %w", g.namespace, g.name, want, err)
	}
	g.mu.Lock()
	g.target = want
	g.mu.Unlock()
	return nil
}

// IncreaseSize implements NodeGroup.
func (g *Group) IncreaseSize(ctx context.Context, delta int) error {
	if delta <= 0 {
		return fmt.Errorf("size increase must be positive, got %d", delta)
	}
	return g.setReplicas(ctx, delta)
}

// DecreaseTargetSize implements NodeGroup.
func (g *Group) DecreaseTargetSize(ctx context.Context, delta int) error {
	if delta <= 0 {
		return fmt.Errorf("size decrease must be positive, got %d", delta)
	}
	return g.setReplicas(ctx, -delta)
}

// DeleteNodes marks each node's Machine (found by providerID among the
// group's Machines) for deletion and lowers replicas; a node without such
// a Machine is refused with a NotOwnedError before anything changes.
func (g *Group) DeleteNodes(ctx context.Context, nodes []*corev1.Node) error {
	names := make([]string, len(nodes))
	g.mu.Lock()
	for i, n := range nodes {
		names[i] = g.machines[n.Spec.ProviderID]
	}
	g.mu.Unlock()
	for i, n := range nodes {
		if n.Spec.ProviderID == "" || names[i] == "" {
			return fmt.Errorf("node %q (providerID %q): %w", n.Name, n.Spec.ProviderID, &cloudprovider.NotOwnedError{Provider: "clusterapi", Group: g.cfg.Name})
		}
	}
	for i := range nodes {
		machine := names[i]
		patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:""}}}`, AnnotationDeleteMachine))
		if _, err := g.p.client.Resource(Machines).Namespace(g.namespace).Patch(ctx, machine, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("marking Machine %s/%s for deletion: %w", g.namespace, machine, err)
		}
	}
	return g.setReplicas(ctx, -len(nodes))
}

// TemplateNode implements NodeGroup.
func (g *Group) TemplateNode() (*corev1.Node, error) {
	cfg := g.Config()
	return cloudprovider.BuildNode(cfg, cloudprovider.TemplateName(cfg.Name))
}

// Nodes implements NodeGroup: the providerIDs of the group's Machines.
func (g *Group) Nodes() ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.machines))
	for id := range g.machines {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}
