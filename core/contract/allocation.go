package contract

import (
	"bytes"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/device"
)

// AllocationVersion is the version of the allocation annotations.
const AllocationVersion = "v1"

// Allocation is the set of device shares a pod holds on one node.
type Allocation struct {
	Node       string                `json:"node"`
	Containers []ContainerAllocation `json:"containers"`
}

// ContainerAllocation is what one container holds.
type ContainerAllocation struct {
	Container string        `json:"container"`
	Kind      device.Kind   `json:"kind"`
	Devices   []DeviceShare `json:"devices"`
}

// UnknownIndex is the DeviceShare.Index of a device whose index is not
// known, such as one kubelet allocated that has since left the node's
// inventory (a GPU that fell off the bus).
const UnknownIndex = -1

// DeviceShare is a share of one device.
type DeviceShare struct {
	ID string `json:"id"`
	// Index is the device's index on the node, or UnknownIndex when the
	// index is not known.
	Index int `json:"index"`
	// Units is the share in percent of the device (1..100).
	Units int `json:"units"`
}

// Validate checks shapes and ranges.
func (a Allocation) Validate() error {
	if a.Node == "" {
		return fmt.Errorf("empty node")
	}
	return a.ValidateContainers()
}

// ValidateContainers checks the containers alone: each names a container
// and a kind once, and takes 1..100 units of each of its devices, each
// device listed once with an index of 0 or more, or UnknownIndex. A pod
// holding no device has no containers.
func (a Allocation) ValidateContainers() error {
	type key struct {
		container string
		kind      device.Kind
	}
	seen := map[key]bool{}
	for i, c := range a.Containers {
		if c.Container == "" {
			return fmt.Errorf("containers[%d]: empty container name", i)
		}
		if !c.Kind.Valid() {
			return fmt.Errorf("containers[%d]: unknown kind %q", i, c.Kind)
		}
		if seen[key{c.Container, c.Kind}] {
			return fmt.Errorf("containers[%d]: container %q listed twice for kind %q", i, c.Container, c.Kind)
		}
		seen[key{c.Container, c.Kind}] = true
		if len(c.Devices) == 0 {
			return fmt.Errorf("containers[%d]: no devices", i)
		}
		ids := make(map[string]bool, len(c.Devices))
		for j, d := range c.Devices {
			if d.ID == "" {
				return fmt.Errorf("containers[%d].devices[%d]: empty id", i, j)
			}
			if ids[d.ID] {
				return fmt.Errorf("containers[%d].devices[%d]: device %q listed twice", i, j, d.ID)
			}
			ids[d.ID] = true
			if d.Index < UnknownIndex {
				return fmt.Errorf("containers[%d].devices[%d]: negative index %d", i, j, d.Index)
			}
			if d.Units < 1 || d.Units > device.UnitsPerDevice {
				return fmt.Errorf("containers[%d].devices[%d]: units %d outside 1..%d", i, j, d.Units, device.UnitsPerDevice)
			}
		}
	}
	return nil
}

// Units returns the units the allocation takes on each device ID.
func (a Allocation) Units() map[string]int {
	out := map[string]int{}
	for _, c := range a.Containers {
		for _, d := range c.Devices {
			out[d.ID] += d.Units
		}
	}
	return out
}

// Container returns the allocation of the named container and kind.
func (a Allocation) Container(name string, k device.Kind) (ContainerAllocation, bool) {
	for _, c := range a.Containers {
		if c.Container == name && c.Kind == k {
			return c, true
		}
	}
	return ContainerAllocation{}, false
}

type allocationWire struct {
	Version string `json:"v"`
	Allocation
}

// EncodeAllocation returns the annotation value for a.
func EncodeAllocation(a Allocation) (string, error) {
	if err := a.Validate(); err != nil {
		return "", fmt.Errorf("invalid allocation: %w", err)
	}
	b, err := json.Marshal(allocationWire{Version: AllocationVersion, Allocation: a})
	if err != nil {
		return "", fmt.Errorf("encoding allocation: %w", err)
	}
	return string(b), nil
}

// DecodeAllocation parses an allocation annotation value.
func DecodeAllocation(value string) (Allocation, error) {
	var w allocationWire
	dec := json.NewDecoder(bytes.NewReader([]byte(value)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Allocation{}, fmt.Errorf("not valid JSON: %w", err)
	}
	if !atEOF(dec) {
		return Allocation{}, fmt.Errorf("trailing data after the JSON object")
	}
	if w.Version != AllocationVersion {
		return Allocation{}, fmt.Errorf("version %q is not supported (want %q)", w.Version, AllocationVersion)
	}
	if err := w.Allocation.Validate(); err != nil {
		return Allocation{}, err
	}
	return w.Allocation, nil
}

// Source says which annotation an allocation came from.
type Source string

const (
	// FromNode is the node agent's record of what kubelet gave the pod.
	FromNode Source = "node"
	// FromScheduler is the scheduler's intent.
	FromScheduler Source = "scheduler"
)

// AllocationOf returns the allocation that counts for pod: the node agent's
// record where it exists, otherwise the scheduler's intent. ok is false when
// the pod carries neither. A malformed annotation is reported in err, naming
// it; when the agent's record is the malformed one and the scheduler's intent
// is sound, the intent is returned with ok true alongside that error, so
// every component counts the same devices and still says what is broken.
func AllocationOf(pod *corev1.Pod) (a Allocation, src Source, ok bool, err error) {
	var broken error
	for _, c := range []struct {
		key string
		src Source
	}{{AnnotationAllocated, FromNode}, {AnnotationAllocation, FromScheduler}} {
		v, found := pod.Annotations[c.key]
		if !found {
			continue
		}
		a, derr := DecodeAllocation(v)
		if derr != nil {
			derr = fmt.Errorf("pod %s/%s: invalid %s annotation: %w", pod.Namespace, pod.Name, c.key, derr)
			if broken == nil {
				broken = derr
			}
			continue
		}
		return a, c.src, true, broken
	}
	return Allocation{}, "", false, broken
}
