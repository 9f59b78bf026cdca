package dra

import (
	"fmt"
	"sort"
	"sync"

	v1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/dynamic-resource-allocation/structured"
	fwk "k8s.io/kube-scheduler/framework"
)

// Memory is an in-memory SharedDRAManager for simulations, the way Cluster
// Autoscaler's snapshot serves the DynamicResources plugin: slices, classes
// and claims held in maps, an allocation the plugin signals in Reserve
// taken as made (Commit), no API server. The simulator and the autoscaler
// run GantryDRA (or the stock plugin) on it.
type Memory struct {
	mu      sync.RWMutex
	slices  []*resourceapi.ResourceSlice
	classes map[string]*resourceapi.DeviceClass
	claims  map[string]*resourceapi.ResourceClaim // by namespace/name
	pending map[types.UID]*resourceapi.ResourceClaim
}

var _ fwk.SharedDRAManager = &Memory{}

// NewMemory returns an empty manager.
func NewMemory() *Memory {
	return &Memory{classes: map[string]*resourceapi.DeviceClass{}, claims: map[string]*resourceapi.ResourceClaim{}, pending: map[types.UID]*resourceapi.ResourceClaim{}}
}

// AddSlice adds a ResourceSlice.
func (m *Memory) AddSlice(s *resourceapi.ResourceSlice) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.slices = append(m.slices, s)
}

// AddClass adds a DeviceClass.
func (m *Memory) AddClass(c *resourceapi.DeviceClass) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.classes[c.Name] = c
}

// AddClaim adds or replaces a claim.
func (m *Memory) AddClaim(c *resourceapi.ResourceClaim) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims[c.Namespace+"/"+c.Name] = c
}

// DeleteClaim removes a claim, and with it what it holds.
func (m *Memory) DeleteClaim(namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.claims[namespace+"/"+name]; ok {
		delete(m.pending, c.UID)
		delete(m.claims, namespace+"/"+name)
	}
}

// Commit takes every allocation signalled since the last Commit as made,
// reserved for pod, as the scheduler's PreBind would write it.
func (m *Memory) Commit(pod *v1.Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for uid, c := range m.pending {
		c = c.DeepCopy()
		c.Status.ReservedFor = append(c.Status.ReservedFor, resourceapi.ResourceClaimConsumerReference{Resource: "pods", Name: pod.Name, UID: pod.UID})
		m.claims[c.Namespace+"/"+c.Name] = c
		delete(m.pending, uid)
	}
}

// Claim returns a claim as it stands.
func (m *Memory) Claim(namespace, name string) (*resourceapi.ResourceClaim, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.claims[namespace+"/"+name]
	return c, ok
}

// ResourceClaims returns the claim tracker.
func (m *Memory) ResourceClaims() fwk.ResourceClaimTracker { return memClaims{m} }

// ResourceSlices returns the slice lister.
func (m *Memory) ResourceSlices() fwk.ResourceSliceLister { return memSlices{m} }

// DeviceClasses returns the class lister.
func (m *Memory) DeviceClasses() fwk.DeviceClassLister { return memClasses{m} }

// DeviceClassResolver maps no extended resource to a class.
func (m *Memory) DeviceClassResolver() fwk.DeviceClassResolver { return memResolver{} }

type memSlices struct{ m *Memory }

func (s memSlices) ListWithDeviceTaintRules() ([]*resourceapi.ResourceSlice, error) {
	s.m.mu.RLock()
	defer s.m.mu.RUnlock()
	return append([]*resourceapi.ResourceSlice(nil), s.m.slices...), nil
}

type memClasses struct{ m *Memory }

func (c memClasses) List() ([]*resourceapi.DeviceClass, error) {
	c.m.mu.RLock()
	defer c.m.mu.RUnlock()
	out := make([]*resourceapi.DeviceClass, 0, len(c.m.classes))
	for _, dc := range c.m.classes {
		out = append(out, dc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (c memClasses) Get(name string) (*resourceapi.DeviceClass, error) {
	c.m.mu.RLock()
	defer c.m.mu.RUnlock()
	if dc, ok := c.m.classes[name]; ok {
		return dc, nil
	}
	return nil, apierrors.NewNotFound(resourceapi.Resource("deviceclasses"), name)
}

type memResolver struct{}

func (memResolver) GetDeviceClass(v1.ResourceName) *resourceapi.DeviceClass { return nil }

type memClaims struct{ m *Memory }

// withPending returns c with its in-flight allocation, if any.
func (t memClaims) withPending(c *resourceapi.ResourceClaim) *resourceapi.ResourceClaim {
	if p, ok := t.m.pending[c.UID]; ok {
		return p
	}
	return c
}

func (t memClaims) List() ([]*resourceapi.ResourceClaim, error) {
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	out := make([]*resourceapi.ResourceClaim, 0, len(t.m.claims))
	for _, c := range t.m.claims {
		out = append(out, t.withPending(c))
	}
	return out, nil
}

func (t memClaims) Get(namespace, name string) (*resourceapi.ResourceClaim, error) {
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	if c, ok := t.m.claims[namespace+"/"+name]; ok {
		return t.withPending(c), nil
	}
	return nil, apierrors.NewNotFound(resourceapi.Resource("resourceclaims"), name)
}

func (t memClaims) ListAllAllocatedDevices() (sets.Set[structured.DeviceID], error) {
	st, err := t.GatherAllocatedState()
	if err != nil {
		return nil, err
	}
	return st.AllocatedDevices, nil
}

// GatherAllocatedState counts every allocated or in-flight claim as the
// scheduler's tracker does: a result with a share ID holds a share (and
// its consumed capacity), any other holds the device.
func (t memClaims) GatherAllocatedState() (*structured.AllocatedState, error) {
	claims, _ := t.List()
	st := &structured.AllocatedState{
		AllocatedDevices:         sets.New[structured.DeviceID](),
		AllocatedSharedDeviceIDs: sets.New[structured.SharedDeviceID](),
		AggregatedCapacity:       structured.NewConsumedCapacityCollection(),
	}
	for _, c := range claims {
		if c.Status.Allocation == nil {
			continue
		}
		for _, r := range c.Status.Allocation.Devices.Results {
			id := structured.MakeDeviceID(r.Driver, r.Pool, r.Device)
			if r.ShareID == nil {
				st.AllocatedDevices.Insert(id)
				continue
			}
			st.AllocatedSharedDeviceIDs.Insert(structured.MakeSharedDeviceID(id, r.ShareID))
			if r.ConsumedCapacity != nil {
				st.AggregatedCapacity.Insert(structured.NewDeviceConsumedCapacity(id, r.ConsumedCapacity))
			}
		}
	}
	return st, nil
}

func (t memClaims) SignalClaimPendingAllocation(uid types.UID, claim *resourceapi.ResourceClaim) error {
	if claim == nil || claim.Status.Allocation == nil {
		return fmt.Errorf("claim %s: no allocation to signal", uid)
	}
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	t.m.pending[uid] = claim.DeepCopy()
	return nil
}

func (t memClaims) GetPendingAllocation(uid types.UID) *resourceapi.AllocationResult {
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	if c, ok := t.m.pending[uid]; ok {
		return c.Status.Allocation
	}
	return nil
}

func (t memClaims) MaybeRemoveClaimPendingAllocation(uid types.UID, _ bool) bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	_, ok := t.m.pending[uid]
	delete(t.m.pending, uid)
	return ok
}

func (t memClaims) AssumeClaimAfterAPICall(claim *resourceapi.ResourceClaim) error {
	t.m.AddClaim(claim.DeepCopy())
	return nil
}

func (t memClaims) AssumedClaimRestore(string, string) {}

// Fork returns an independent copy: the slices, classes and claims as
// they stand, in-flight allocations included. Objects are shared, never
// changed in place (every change replaces one), so the copy is shallow.
func (m *Memory) Fork() *Memory {
	m.mu.RLock()
	defer m.mu.RUnlock()
	f := NewMemory()
	f.slices = append(f.slices, m.slices...)
	for k, v := range m.classes {
		f.classes[k] = v
	}
	for k, v := range m.claims {
		f.claims[k] = v
	}
	for k, v := range m.pending {
		f.pending[k] = v
	}
	return f
}

// Set replaces every object, as a simulation that reads the cluster anew
// does, and drops in-flight allocations.
func (m *Memory) Set(slices []*resourceapi.ResourceSlice, classes []*resourceapi.DeviceClass, claims []*resourceapi.ResourceClaim) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.slices = append([]*resourceapi.ResourceSlice(nil), slices...)
	m.classes = make(map[string]*resourceapi.DeviceClass, len(classes))
	for _, c := range classes {
		m.classes[c.Name] = c
	}
	m.claims = make(map[string]*resourceapi.ResourceClaim, len(claims))
	for _, c := range claims {
		m.claims[c.Namespace+"/"+c.Name] = c
	}
	m.pending = map[types.UID]*resourceapi.ResourceClaim{}
}

// RemoveNodeSlices removes the slices of devices local to node.
func (m *Memory) RemoveNodeSlices(node string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := m.slices[:0:0]
	for _, s := range m.slices {
		if s.Spec.NodeName == nil || *s.Spec.NodeName != node {
			keep = append(keep, s)
		}
	}
	m.slices = keep
}

// Objects returns every slice, class and claim (in-flight allocations
// not applied), for a simulation that starts from the same objects.
func (m *Memory) Objects() ([]*resourceapi.ResourceSlice, []*resourceapi.DeviceClass, []*resourceapi.ResourceClaim) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	slices := append([]*resourceapi.ResourceSlice(nil), m.slices...)
	classes := make([]*resourceapi.DeviceClass, 0, len(m.classes))
	for _, c := range m.classes {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool { return classes[i].Name < classes[j].Name })
	claims := make([]*resourceapi.ResourceClaim, 0, len(m.claims))
	for _, c := range m.claims {
		claims = append(claims, c)
	}
	sort.Slice(claims, func(i, j int) bool {
		return claims[i].Namespace+"/"+claims[i].Name < claims[j].Namespace+"/"+claims[j].Name
	})
	return slices, classes, claims
}
