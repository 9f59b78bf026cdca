package device

import (
	"fmt"
	"regexp"
	"sort"
)

// Kind is the class of an accelerator. Requests of one kind are only ever
// placed on devices of that kind.
type Kind string

const (
	// GPU is a graphics processing unit (NVIDIA, AMD, ...).
	GPU Kind = "gpu"
	// NPU is a neural processing unit (Ascend, Trainium, ...).
	NPU Kind = "npu"
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{GPU, NPU}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == GPU || k == NPU }

// Health is a device's published health.
type Health string

const (
	// Healthy devices take new shares.
	Healthy Health = "Healthy"
	// Unhealthy devices take none; their shares are withdrawn from kubelet.
	Unhealthy Health = "Unhealthy"
)

// UnitsPerDevice is the capacity of one device in share units. One unit is
// one percent of a device, i.e. 10 milli-GPU, so every gpu_milli value of the
// Alibaba trace maps exactly.
const UnitsPerDevice = 100

// NoNUMA marks a device whose NUMA node is unknown.
const NoNUMA = -1

// Device is one physical accelerator.
type Device struct {
	// ID is stable across reboots (the NVML UUID for NVIDIA GPUs).
	ID string `json:"id"`
	// Index is the device's position on the node, 0-based and unique.
	Index int  `json:"index"`
	Kind  Kind `json:"kind"`
	// Vendor is e.g. "nvidia" or "huawei".
	Vendor string `json:"vendor,omitempty"`
	// Model is the name constraints match on, e.g. "A100-SXM4-80GB" or "V100M16".
	Model string `json:"model"`
	// MemoryMiB is the device memory; a share of p units may use p% of it.
	MemoryMiB int64  `json:"memoryMiB"`
	Health    Health `json:"health"`
	// NUMANode is the host NUMA node, or NoNUMA.
	NUMANode int `json:"numaNode"`
	// LinkGroup names the set of devices with a fast interconnect (NVLink,
	// HCCS) between them; empty when the device has no peers.
	LinkGroup string `json:"linkGroup,omitempty"`
	// Isolation is the isolation in force between the device's shares;
	// empty means IsolationNone.
	Isolation Isolation `json:"isolation,omitempty"`
	// MIG describes the device when it is a MIG instance.
	MIG *MIG `json:"mig,omitempty"`
}

// MIG describes a MIG instance published as a device.
type MIG struct {
	// Parent is the UUID of the GPU the instance is carved from.
	Parent string `json:"parent"`
	// Profile is the instance's profile, e.g. "1g.10gb".
	Profile string `json:"profile"`
}

// modelPattern is a valid Kubernetes label value that is not empty: models
// are published as node labels and named in pod annotations.
var modelPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`)

// ValidModel reports whether m can name a model: 1..63 letters, digits, '.',
// '_' and '-', starting and ending with a letter or digit, so that it is a
// valid node label value and can be named in a pod's model constraint.
func ValidModel(m string) bool { return modelPattern.MatchString(m) }

// Healthy reports whether the device takes new shares.
func (d Device) Healthy() bool { return d.Health == Healthy }

// Validate returns an error naming the first field that is out of range.
func (d Device) Validate() error {
	switch {
	case d.ID == "":
		return fmt.Errorf("device %d: empty id", d.Index)
	case d.Index < 0:
		return fmt.Errorf("device %q: negative index %d", d.ID, d.Index)
	case !d.Kind.Valid():
		return fmt.Errorf("device %q: unknown kind %q (want %q or %q)", d.ID, d.Kind, GPU, NPU)
	case d.Model == "":
		return fmt.Errorf("device %q: empty model", d.ID)
	case !ValidModel(d.Model):
		return fmt.Errorf("device %q: model %q is not a valid label value (1..63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit)", d.ID, d.Model)
	case d.MemoryMiB < 0:
		return fmt.Errorf("device %q: negative memoryMiB %d", d.ID, d.MemoryMiB)
	case d.Health != Healthy && d.Health != Unhealthy:
		return fmt.Errorf("device %q: unknown health %q (want %q or %q)", d.ID, d.Health, Healthy, Unhealthy)
	case d.NUMANode < NoNUMA:
		return fmt.Errorf("device %q: numaNode %d below %d", d.ID, d.NUMANode, NoNUMA)
	case d.Isolation != "" && d.Isolation != IsolationNone && d.Isolation != IsolationMPS && d.Isolation != IsolationMIG:
		return fmt.Errorf("device %q: unknown isolation %q (want %q, %q or %q)", d.ID, d.Isolation, IsolationNone, IsolationMPS, IsolationMIG)
	case (d.Isolation == IsolationMIG) != (d.MIG != nil):
		return fmt.Errorf("device %q: isolation %q needs mig details and mig details need isolation %q", d.ID, d.Level(), IsolationMIG)
	case d.MIG != nil && (d.MIG.Parent == "" || d.MIG.Profile == ""):
		return fmt.Errorf("device %q: a MIG instance needs its parent GPU and profile", d.ID)
	}
	return nil
}

// Inventory is every accelerator on one node, ordered by index.
type Inventory struct {
	Devices []Device `json:"devices"`
}

// Validate checks every device and that IDs and indices are unique.
func (inv Inventory) Validate() error {
	ids := make(map[string]bool, len(inv.Devices))
	idx := make(map[int]bool, len(inv.Devices))
	for _, d := range inv.Devices {
		if err := d.Validate(); err != nil {
			return err
		}
		if ids[d.ID] {
			return fmt.Errorf("device %q listed twice", d.ID)
		}
		if idx[d.Index] {
			return fmt.Errorf("device index %d listed twice", d.Index)
		}
		ids[d.ID], idx[d.Index] = true, true
	}
	return nil
}

// Sort orders the devices by index, in place. The Devices slice is shared
// with every copy of inv; use Sorted to leave the caller's slice alone.
func (inv *Inventory) Sort() {
	sort.Slice(inv.Devices, func(i, j int) bool { return inv.Devices[i].Index < inv.Devices[j].Index })
}

// Sorted returns a copy of inv ordered by index, sharing nothing with inv.
func (inv Inventory) Sorted() Inventory {
	out := Inventory{Devices: append([]Device(nil), inv.Devices...)}
	out.Sort()
	return out
}

// Count returns how many devices of kind k the node has.
func (inv Inventory) Count(k Kind) int {
	n := 0
	for _, d := range inv.Devices {
		if d.Kind == k {
			n++
		}
	}
	return n
}

// Models returns the distinct models of kind k, sorted.
func (inv Inventory) Models(k Kind) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range inv.Devices {
		if d.Kind == k && !seen[d.Model] {
			seen[d.Model] = true
			out = append(out, d.Model)
		}
	}
	sort.Strings(out)
	return out
}

// ByID returns the device with the given ID.
func (inv Inventory) ByID(id string) (Device, bool) {
	for _, d := range inv.Devices {
		if d.ID == id {
			return d, true
		}
	}
	return Device{}, false
}
