package state

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// Unlimited marks host CPU or memory that is not tracked.
const Unlimited = math.MaxInt64

// Dev is one device and what is taken of it.
type Dev struct {
	device.Device
	// Used is the units held by pods (0..UnitsPerDevice).
	Used int
	// Holders counts the pods holding a share of the device.
	Holders int
	// workloads counts holders per workload key, for replica anti-sharing.
	workloads map[string]int
}

// Free returns the units left on the device; an unhealthy device has none.
func (d *Dev) Free() int {
	if !d.Healthy() {
		return 0
	}
	return device.UnitsPerDevice - d.Used
}

// HoldsWorkload reports whether a replica of workload already holds a share.
func (d *Dev) HoldsWorkload(workload string) bool {
	return workload != "" && d.workloads[workload] > 0
}

// Holding is a pod's allocation on a node.
type Holding struct {
	Allocation contract.Allocation
	Workload   string
	CPUMilli   int64
	MemoryMiB  int64
}

// NodeState is one node's devices and host resources with the pods on them.
type NodeState struct {
	Name string
	Zone string
	// CPUFreeMilli and MemoryFreeMiB are the host resources left, or
	// Unlimited where the caller does not track them.
	CPUFreeMilli  int64
	MemoryFreeMiB int64
	// CPUAllocMilli is the node's allocatable CPU, used by the trace
	// baselines' normalisation; 0 when unknown.
	CPUAllocMilli int64
	Devices       []Dev
	pods          map[string]Holding
	// Generation changes on every change and is unique across every
	// NodeState of the process (a clone starts with its original's, as it
	// has the same content), so callers can cache results per generation
	// even across forks.
	Generation uint64
}

var generations atomic.Uint64

func nextGeneration() uint64 { return generations.Add(1) }

// New returns the state of a node with inv and nothing allocated.
func New(name, zone string, inv device.Inventory) *NodeState {
	n := &NodeState{Name: name, Zone: zone, CPUFreeMilli: Unlimited, MemoryFreeMiB: Unlimited, Generation: nextGeneration()}
	inv = inv.Sorted()
	n.Devices = make([]Dev, len(inv.Devices))
	for i, d := range inv.Devices {
		n.Devices[i] = Dev{Device: d}
	}
	return n
}

// WithHost sets the host resources left and returns n.
func (n *NodeState) WithHost(cpuAllocMilli, cpuFreeMilli, memFreeMiB int64) *NodeState {
	n.CPUAllocMilli, n.CPUFreeMilli, n.MemoryFreeMiB = cpuAllocMilli, cpuFreeMilli, memFreeMiB
	n.Generation = nextGeneration()
	return n
}

// Clone returns a deep copy that shares nothing mutable with n.
func (n *NodeState) Clone() *NodeState {
	c := *n
	c.Devices = make([]Dev, len(n.Devices))
	copy(c.Devices, n.Devices)
	for i := range c.Devices {
		// Every map is copied or dropped, empty ones too: an empty map
		// left shared would take the next Assign's workloads into both.
		src := c.Devices[i].workloads
		c.Devices[i].workloads = nil
		if len(src) > 0 {
			c.Devices[i].workloads = make(map[string]int, len(src))
			for k, v := range src {
				c.Devices[i].workloads[k] = v
			}
		}
	}
	if n.pods != nil {
		c.pods = make(map[string]Holding, len(n.pods))
		for k, v := range n.pods {
			c.pods[k] = v
		}
	}
	return &c
}

// Free returns the free units over healthy devices of kind k.
func (n *NodeState) Free(k device.Kind) int {
	s := 0
	for i := range n.Devices {
		if n.Devices[i].Kind == k {
			s += n.Devices[i].Free()
		}
	}
	return s
}

// FreeVector returns the units free on each device, by index into Devices.
func (n *NodeState) FreeVector() []int {
	free := make([]int, len(n.Devices))
	for i := range n.Devices {
		free[i] = n.Devices[i].Free()
	}
	return free
}

// Capacity returns the units of all healthy devices of kind k.
func (n *NodeState) Capacity(k device.Kind) int {
	s := 0
	for i := range n.Devices {
		if n.Devices[i].Kind == k && n.Devices[i].Healthy() {
			s += device.UnitsPerDevice
		}
	}
	return s
}

// Used returns the units held on devices of kind k.
func (n *NodeState) Used(k device.Kind) int {
	s := 0
	for i := range n.Devices {
		if n.Devices[i].Kind == k {
			s += n.Devices[i].Used
		}
	}
	return s
}

// Pods returns how many pods hold devices on the node.
func (n *NodeState) Pods() int { return len(n.pods) }

// Holding returns the allocation pod holds on n. It shares its slices with
// n: callers must not modify it.
func (n *NodeState) Holding(pod string) (Holding, bool) {
	h, ok := n.pods[pod]
	return h, ok
}

// PodKeys returns the keys of the pods holding devices, in no order.
func (n *NodeState) PodKeys() []string {
	out := make([]string, 0, len(n.pods))
	for k := range n.pods {
		out = append(out, k)
	}
	return out
}

// DeviceIndex returns the position in Devices of the device with id, or -1.
func (n *NodeState) DeviceIndex(id string) int {
	for i := range n.Devices {
		if n.Devices[i].ID == id {
			return i
		}
	}
	return -1
}

// OvercommitError is returned by Assign when a holding does not fit.
type OvercommitError struct {
	Node, Pod, Device string
	Used, Asked       int
}

func (e *OvercommitError) Error() string {
	return fmt.Sprintf("node %q: pod %s asks %d%% of device %q which has %d%% in use", e.Node, e.Pod, e.Asked, e.Device, e.Used)
}

// Assign records that pod holds h. It fails, changing nothing, when the pod
// already holds something here, the allocation is malformed or names
// another node, a device is unknown or of another kind, or a device would
// go over 100%. A device's health is not checked: Assign records what pods
// hold, and a device may fail under its pods. Host resources are taken as
// recorded, without a check: the scheduler's own resource fit owns them.
func (n *NodeState) Assign(pod string, h Holding) error {
	if _, ok := n.pods[pod]; ok {
		return fmt.Errorf("node %q: pod %s already holds devices", n.Name, pod)
	}
	if h.Allocation.Node != "" && h.Allocation.Node != n.Name {
		return fmt.Errorf("node %q: pod %s holds an allocation on node %q", n.Name, pod, h.Allocation.Node)
	}
	if err := h.Allocation.ValidateContainers(); err != nil {
		return fmt.Errorf("node %q: pod %s holds an invalid allocation: %w", n.Name, pod, err)
	}
	for _, c := range h.Allocation.Containers {
		for _, d := range c.Devices {
			i := n.DeviceIndex(d.ID)
			if i < 0 {
				return fmt.Errorf("node %q: pod %s holds unknown device %q", n.Name, pod, d.ID)
			}
			if n.Devices[i].Kind != c.Kind {
				return fmt.Errorf("node %q: pod %s holds device %q as %s, but it is a %s", n.Name, pod, d.ID, c.Kind, n.Devices[i].Kind)
			}
		}
	}
	units := h.Allocation.Units()
	for id, u := range units {
		i := n.DeviceIndex(id)
		if n.Devices[i].Used+u > device.UnitsPerDevice {
			return &OvercommitError{Node: n.Name, Pod: pod, Device: id, Used: n.Devices[i].Used, Asked: u}
		}
	}
	for id, u := range units {
		d := &n.Devices[n.DeviceIndex(id)]
		d.Used += u
		d.Holders++
		if h.Workload != "" {
			if d.workloads == nil {
				d.workloads = map[string]int{}
			}
			d.workloads[h.Workload]++
		}
	}
	n.takeHost(h, 1)
	if n.pods == nil {
		n.pods = map[string]Holding{}
	}
	n.pods[pod] = h
	n.Generation = nextGeneration()
	return nil
}

// Release drops what pod holds. It reports whether the pod held anything.
func (n *NodeState) Release(pod string) bool {
	h, ok := n.pods[pod]
	if !ok {
		return false
	}
	for id, u := range h.Allocation.Units() {
		if i := n.DeviceIndex(id); i >= 0 {
			d := &n.Devices[i]
			d.Used -= u
			d.Holders--
			if h.Workload != "" {
				if d.workloads[h.Workload]--; d.workloads[h.Workload] <= 0 {
					delete(d.workloads, h.Workload)
				}
			}
		}
	}
	n.takeHost(h, -1)
	delete(n.pods, pod)
	n.Generation = nextGeneration()
	return true
}

func (n *NodeState) takeHost(h Holding, sign int64) {
	if n.CPUFreeMilli != Unlimited {
		n.CPUFreeMilli -= sign * h.CPUMilli
	}
	if n.MemoryFreeMiB != Unlimited {
		n.MemoryFreeMiB -= sign * h.MemoryMiB
	}
}

// SetHealth marks a device healthy or not, keeping its holdings. It
// reports false, changing nothing, for an unknown device or health.
func (n *NodeState) SetHealth(id string, h device.Health) bool {
	i := n.DeviceIndex(id)
	if i < 0 || (h != device.Healthy && h != device.Unhealthy) {
		return false
	}
	n.Devices[i].Health = h
	n.Generation = nextGeneration()
	return true
}
