package dra

import (
	"sync"

	resourceapi "k8s.io/api/resource/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/contract"
)

// handle is the framework handle the embedded DynamicResources plugin gets:
// the scheduler's own, but for its DRA view.
type handle struct {
	fwk.Handle
	dra fwk.SharedDRAManager
}

func (h *handle) SharedDRAManager() fwk.SharedDRAManager { return h.dra }

// draView is the scheduler's DRA manager with ordered slices.
type draView struct {
	fwk.SharedDRAManager
	slices *orderedSlices
}

func (v *draView) ResourceSlices() fwk.ResourceSliceLister { return v.slices }

// orderedSlices lists the scheduler's ResourceSlices, with the Gantry
// devices of each node in order while an order is set. It never changes
// the listed objects: a reordered slice is a shallow copy with its own
// device list.
type orderedSlices struct {
	base fwk.ResourceSliceLister
	mu   sync.RWMutex
	// order maps a node name to its Gantry device names, best first.
	order map[string][]string
}

func (o *orderedSlices) set(order map[string][]string) {
	o.mu.Lock()
	o.order = order
	o.mu.Unlock()
}

// ListWithDeviceTaintRules returns the base list, reordered.
func (o *orderedSlices) ListWithDeviceTaintRules() ([]*resourceapi.ResourceSlice, error) {
	slices, err := o.base.ListWithDeviceTaintRules()
	if err != nil {
		return nil, err
	}
	o.mu.RLock()
	order := o.order
	o.mu.RUnlock()
	if len(order) == 0 {
		return slices, nil
	}
	out := make([]*resourceapi.ResourceSlice, len(slices))
	for i, s := range slices {
		out[i] = s
		if s.Spec.Driver != contract.DRADriver {
			continue
		}
		if names, ok := order[ptr.Deref(s.Spec.NodeName, "")]; ok {
			out[i] = reorder(s, names)
		}
	}
	return out, nil
}

// reorder returns s with the named devices first, in the given order, and
// the rest after them as listed.
func reorder(s *resourceapi.ResourceSlice, names []string) *resourceapi.ResourceSlice {
	devices := make([]resourceapi.Device, 0, len(s.Spec.Devices))
	placed := make([]bool, len(s.Spec.Devices))
	pos := make(map[string]int, len(s.Spec.Devices))
	for i := range s.Spec.Devices {
		pos[s.Spec.Devices[i].Name] = i
	}
	for _, n := range names {
		if i, ok := pos[n]; ok && !placed[i] {
			devices = append(devices, s.Spec.Devices[i])
			placed[i] = true
		}
	}
	for i := range s.Spec.Devices {
		if !placed[i] {
			devices = append(devices, s.Spec.Devices[i])
		}
	}
	c := *s
	c.Spec.Devices = devices
	return &c
}
