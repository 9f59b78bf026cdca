package source

import (
	"context"
	"fmt"
	"sort"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	resourcelisters "k8s.io/client-go/listers/resource/v1"
)

// DRALister is implemented by sources that read the cluster's Dynamic
// Resource Allocation objects: what node agents publish (ResourceSlices),
// the DeviceClasses claims name, and the ResourceClaims with their
// allocations. The autoscaler reads them when a node group is in DRA mode;
// it never writes them (the scheduler allocates, the drivers publish).
type DRALister interface {
	ResourceSlices(ctx context.Context) ([]*resourceapi.ResourceSlice, error)
	DeviceClasses(ctx context.Context) ([]*resourceapi.DeviceClass, error)
	ResourceClaims(ctx context.Context) ([]*resourceapi.ResourceClaim, error)
}

var (
	_ DRALister = &Client{}
	_ DRALister = &Memory{}
)

// draListers are the caches of a Client that reads DRA objects.
type draListers struct {
	slices  resourcelisters.ResourceSliceLister
	classes resourcelisters.DeviceClassLister
	claims  resourcelisters.ResourceClaimLister
}

// EnableDRA registers ResourceSlice, DeviceClass and ResourceClaim
// informers (resource.k8s.io/v1, list and watch) on factory; call it
// before StartInformers. Without it the DRA lists are empty.
func (c *Client) EnableDRA(factory informers.SharedInformerFactory) {
	r := factory.Resource().V1()
	c.dra = &draListers{slices: r.ResourceSlices().Lister(), classes: r.DeviceClasses().Lister(), claims: r.ResourceClaims().Lister()}
}

// ResourceSlices implements DRALister. The objects are the cache's.
func (c *Client) ResourceSlices(context.Context) ([]*resourceapi.ResourceSlice, error) {
	if c.dra == nil {
		return nil, nil
	}
	out, err := c.dra.slices.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing ResourceSlices: %w", err)
	}
	return out, nil
}

// DeviceClasses implements DRALister. The objects are the cache's.
func (c *Client) DeviceClasses(context.Context) ([]*resourceapi.DeviceClass, error) {
	if c.dra == nil {
		return nil, nil
	}
	out, err := c.dra.classes.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing DeviceClasses: %w", err)
	}
	return out, nil
}

// ResourceClaims implements DRALister. The objects are the cache's.
func (c *Client) ResourceClaims(context.Context) ([]*resourceapi.ResourceClaim, error) {
	if c.dra == nil {
		return nil, nil
	}
	out, err := c.dra.claims.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing ResourceClaims: %w", err)
	}
	return out, nil
}

// AddSlice adds or replaces (by name) a ResourceSlice.
func (m *Memory) AddSlice(s *resourceapi.ResourceSlice) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.slices[s.Name] = s
}

// AddDeviceClass adds or replaces a DeviceClass.
func (m *Memory) AddDeviceClass(c *resourceapi.DeviceClass) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.classes[c.Name] = c
}

// AddClaim adds or replaces a ResourceClaim.
func (m *Memory) AddClaim(c *resourceapi.ResourceClaim) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims[c.Namespace+"/"+c.Name] = c
}

// ResourceSlices implements DRALister, sorted by name.
func (m *Memory) ResourceSlices(context.Context) ([]*resourceapi.ResourceSlice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedValues(m.slices), nil
}

// DeviceClasses implements DRALister, sorted by name.
func (m *Memory) DeviceClasses(context.Context) ([]*resourceapi.DeviceClass, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedValues(m.classes), nil
}

// ResourceClaims implements DRALister, sorted by namespace/name.
func (m *Memory) ResourceClaims(context.Context) ([]*resourceapi.ResourceClaim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedValues(m.claims), nil
}

func sortedValues[T any](m map[string]T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]T, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// deleteNodeSlices removes the slices of devices local to node; m.mu is held.
func (m *Memory) deleteNodeSlices(node string) {
	for k, s := range m.slices {
		if s.Spec.NodeName != nil && *s.Spec.NodeName == node {
			delete(m.slices, k)
		}
	}
}
