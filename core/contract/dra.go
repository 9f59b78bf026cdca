package contract

import (
	"fmt"
	"strings"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/device"
)

// DRA mode: a node's agent publishes every card as one device of the driver
// DRADriver, whose capacity "percent" (100) and "memory" pods consume through
// ResourceClaims. What follows is the wire format of those devices and of
// their allocations; core/dra builds node state from it and the DRA driver
// writes it, so both read one definition.

// DRADriver is the name of Gantry's DRA driver, the driver of every device it
// publishes and the domain of their attributes.
const DRADriver = "gpu." + Domain

// Capacities of a Gantry DRA device.
const (
	// DRACapacityPercent is the share of the device, 100 in all; a claim asks
	// capacity.requests.percent of 1..100 in steps of 1.
	DRACapacityPercent resourceapi.QualifiedName = "percent"
	// DRACapacityMemory is the device memory in bytes.
	DRACapacityMemory resourceapi.QualifiedName = "memory"
)

// Attributes of a Gantry DRA device, in the driver's domain (CEL reads them as
// device.attributes["gpu.gantry.dev"].model).
const (
	DRAAttrKind      resourceapi.QualifiedName = "kind"
	DRAAttrUUID      resourceapi.QualifiedName = "uuid"
	DRAAttrIndex     resourceapi.QualifiedName = "index"
	DRAAttrVendor    resourceapi.QualifiedName = "vendor"
	DRAAttrModel     resourceapi.QualifiedName = "model"
	DRAAttrNUMANode  resourceapi.QualifiedName = "numaNode"
	DRAAttrLinkGroup resourceapi.QualifiedName = "linkGroup"
	DRAAttrIsolation resourceapi.QualifiedName = "isolation"
	// DRAAttrMIGParent and DRAAttrMIGProfile describe a MIG instance.
	DRAAttrMIGParent  resourceapi.QualifiedName = "migParent"
	DRAAttrMIGProfile resourceapi.QualifiedName = "migProfile"
)

// DRATaintUnhealthy is the device taint the agent sets on a card that has
// failed; with effect NoSchedule no new claim lands on it.
const DRATaintUnhealthy = DRADriver + "/unhealthy"

// LabelDeviceClassKind marks a DeviceClass as Gantry's and names the kind of
// device it selects ("gpu" or "npu"). The scheduler places the requests of
// such classes with its policy.
const LabelDeviceClassKind = Domain + "/kind"

// DRADeviceName returns the device's name in its ResourceSlice, e.g. "gpu-3".
func DRADeviceName(d device.Device) string { return fmt.Sprintf("%s-%d", d.Kind, d.Index) }

// DRADevice returns d as its agent publishes it in DRA mode: consumable by
// many claims at once, with 100 percent (each claim 1..100 in steps of 1,
// 100 when it asks none) and its memory (in steps of 1 MiB, none when a
// claim asks none), attributes for model, UUID, NUMA
// node, link group, isolation (and MIG instance), and a NoSchedule taint
// when unhealthy.
func DRADevice(d device.Device) resourceapi.Device {
	str := func(s string) resourceapi.DeviceAttribute { return resourceapi.DeviceAttribute{StringValue: ptr.To(s)} }
	attrs := map[resourceapi.QualifiedName]resourceapi.DeviceAttribute{
		DRAAttrKind:     str(string(d.Kind)),
		DRAAttrUUID:     str(d.ID),
		DRAAttrIndex:    {IntValue: ptr.To(int64(d.Index))},
		DRAAttrModel:    str(d.Model),
		DRAAttrNUMANode: {IntValue: ptr.To(int64(d.NUMANode))},
	}
	if d.Vendor != "" {
		attrs[DRAAttrVendor] = str(d.Vendor)
	}
	if d.LinkGroup != "" {
		attrs[DRAAttrLinkGroup] = str(d.LinkGroup)
	}
	attrs[DRAAttrIsolation] = str(string(d.Level()))
	if d.MIG != nil {
		attrs[DRAAttrMIGParent] = str(d.MIG.Parent)
		attrs[DRAAttrMIGProfile] = str(d.MIG.Profile)
	}
	out := resourceapi.Device{
		Name:                     DRADeviceName(d),
		Attributes:               attrs,
		AllowMultipleAllocations: ptr.To(true),
		Capacity: map[resourceapi.QualifiedName]resourceapi.DeviceCapacity{
			DRACapacityPercent: {
				Value: *resource.NewQuantity(device.UnitsPerDevice, resource.DecimalSI),
				RequestPolicy: &resourceapi.CapacityRequestPolicy{
					Default: resource.NewQuantity(device.UnitsPerDevice, resource.DecimalSI),
					ValidRange: &resourceapi.CapacityRequestPolicyRange{
						Min:  resource.NewQuantity(1, resource.DecimalSI),
						Max:  resource.NewQuantity(device.UnitsPerDevice, resource.DecimalSI),
						Step: resource.NewQuantity(1, resource.DecimalSI),
					},
				},
			},
			// A share's memory follows from its percent; a claim that asks
			// memory as well asks at least that much of the card, and one
			// that does not consumes none of it (without a default the
			// allocator would charge the whole card's memory to every share).
			DRACapacityMemory: {
				Value: *resource.NewQuantity(d.MemoryMiB<<20, resource.BinarySI),
				RequestPolicy: &resourceapi.CapacityRequestPolicy{
					Default: resource.NewQuantity(0, resource.BinarySI),
					ValidRange: &resourceapi.CapacityRequestPolicyRange{
						Min:  resource.NewQuantity(0, resource.BinarySI),
						Step: resource.NewQuantity(1<<20, resource.BinarySI),
					},
				},
			},
		},
	}
	if !d.Healthy() {
		out.Taints = []resourceapi.DeviceTaint{{Key: DRATaintUnhealthy, Effect: resourceapi.DeviceTaintEffectNoSchedule}}
	}
	return out
}

// InvalidDRADeviceError is returned for a published device that Gantry cannot
// read; callers tell it from other errors to skip the device and say why.
type InvalidDRADeviceError struct {
	Device string
	Reason string
}

func (e *InvalidDRADeviceError) Error() string {
	return fmt.Sprintf("DRA device %q of driver %s: %s", e.Device, DRADriver, e.Reason)
}

// DeviceFromDRA reads a device of DRADriver back into core's device model.
// The device must carry kind, uuid, index and model, offer percent of exactly
// 100 and allow multiple allocations. A taint with effect NoSchedule or
// NoExecute (the agent's health taint, or an admin's DeviceTaintRule) makes
// the device unhealthy: it takes no new shares.
func DeviceFromDRA(rd resourceapi.Device) (device.Device, error) {
	bad := func(format string, args ...any) (device.Device, error) {
		return device.Device{}, &InvalidDRADeviceError{Device: rd.Name, Reason: fmt.Sprintf(format, args...)}
	}
	str := func(name resourceapi.QualifiedName) (string, bool) {
		a, ok := attribute(rd, name)
		if !ok || a.StringValue == nil {
			return "", false
		}
		return *a.StringValue, true
	}
	integer := func(name resourceapi.QualifiedName) (int64, bool) {
		a, ok := attribute(rd, name)
		if !ok || a.IntValue == nil {
			return 0, false
		}
		return *a.IntValue, true
	}
	d := device.Device{Health: device.Healthy, NUMANode: device.NoNUMA}
	kind, ok := str(DRAAttrKind)
	if !ok {
		return bad("no string attribute %q", DRAAttrKind)
	}
	d.Kind = device.Kind(kind)
	if d.ID, ok = str(DRAAttrUUID); !ok {
		return bad("no string attribute %q", DRAAttrUUID)
	}
	idx, ok := integer(DRAAttrIndex)
	if !ok {
		return bad("no int attribute %q", DRAAttrIndex)
	}
	d.Index = int(idx)
	if d.Model, ok = str(DRAAttrModel); !ok {
		return bad("no string attribute %q", DRAAttrModel)
	}
	d.Vendor, _ = str(DRAAttrVendor)
	d.LinkGroup, _ = str(DRAAttrLinkGroup)
	if numa, ok := integer(DRAAttrNUMANode); ok {
		d.NUMANode = int(numa)
	}
	if iso, ok := str(DRAAttrIsolation); ok && iso != string(device.IsolationNone) {
		d.Isolation = device.Isolation(iso)
	}
	if parent, ok := str(DRAAttrMIGParent); ok {
		profile, _ := str(DRAAttrMIGProfile)
		d.MIG = &device.MIG{Parent: parent, Profile: profile}
	}
	if !ptr.Deref(rd.AllowMultipleAllocations, false) {
		return bad("allowMultipleAllocations is not true, so it cannot hold shares")
	}
	pc, ok := rd.Capacity[DRACapacityPercent]
	if !ok {
		return bad("no capacity %q", DRACapacityPercent)
	}
	if pc.Value.Cmp(*resource.NewQuantity(device.UnitsPerDevice, resource.DecimalSI)) != 0 {
		return bad("capacity %q is %s, want %d", DRACapacityPercent, pc.Value.String(), device.UnitsPerDevice)
	}
	if mc, ok := rd.Capacity[DRACapacityMemory]; ok {
		d.MemoryMiB = mc.Value.Value() >> 20
	}
	for _, t := range rd.Taints {
		if t.Effect == resourceapi.DeviceTaintEffectNoSchedule || t.Effect == resourceapi.DeviceTaintEffectNoExecute {
			d.Health = device.Unhealthy
		}
	}
	if err := d.Validate(); err != nil {
		return bad("%v", err)
	}
	return d, nil
}

// attribute looks name up as published: unqualified, or qualified with the
// driver's domain.
func attribute(rd resourceapi.Device, name resourceapi.QualifiedName) (resourceapi.DeviceAttribute, bool) {
	if a, ok := rd.Attributes[name]; ok {
		return a, true
	}
	a, ok := rd.Attributes[resourceapi.QualifiedName(DRADriver+"/"+string(name))]
	return a, ok
}

// DRAUnits returns the share in percent that an allocation result holds of a
// Gantry device: its consumed percent, rounded up, or the whole device when
// the result records no consumed capacity (an exclusive allocation).
func DRAUnits(r resourceapi.DeviceRequestAllocationResult) (int, error) {
	q, ok := r.ConsumedCapacity[DRACapacityPercent]
	if !ok {
		return device.UnitsPerDevice, nil
	}
	u := q.Value()
	if u < 1 || u > device.UnitsPerDevice {
		return 0, fmt.Errorf("request %q holds %s of capacity %q on device %q, outside 1..%d", r.Request, q.String(), DRACapacityPercent, r.Device, device.UnitsPerDevice)
	}
	return int(u), nil
}

// KindOfDeviceClass returns the kind a DeviceClass selects when it is
// Gantry's (labelled LabelDeviceClassKind with a known kind).
func KindOfDeviceClass(c *resourceapi.DeviceClass) (device.Kind, bool) {
	if c == nil {
		return "", false
	}
	k := device.Kind(strings.ToLower(c.Labels[LabelDeviceClassKind]))
	return k, k.Valid()
}
