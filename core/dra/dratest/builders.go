// Package dratest builds ResourceSlices, ResourceClaims and DeviceClasses
// of Gantry's DRA driver for tests.
package dratest

import (
	"fmt"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// SliceWrapper builds a node's ResourceSlice of contract.DRADriver.
type SliceWrapper struct {
	slice resourceapi.ResourceSlice
	node  string
}

// MakeSlice starts the slice "<node>-gpu.gantry.dev" of pool <node>,
// generation 1, one slice in the pool.
func MakeSlice(node string) *SliceWrapper {
	w := &SliceWrapper{node: node}
	w.slice = resourceapi.ResourceSlice{
		ObjectMeta: metav1.ObjectMeta{Name: node + "-" + contract.DRADriver},
		Spec: resourceapi.ResourceSliceSpec{
			Driver:   contract.DRADriver,
			NodeName: ptr.To(node),
			Pool:     resourceapi.ResourcePool{Name: node, Generation: 1, ResourceSliceCount: 1},
		},
	}
	return w
}

// Generation sets the pool generation.
func (w *SliceWrapper) Generation(g int64) *SliceWrapper {
	w.slice.Spec.Pool.Generation = g
	return w
}

// Name sets the slice's name.
func (w *SliceWrapper) Name(n string) *SliceWrapper {
	w.slice.Name = n
	return w
}

// Devices appends count cards of kind and model with memMiB each, indexed
// after those already there, IDs "<kind>-<node>-<index>", NUMA node 0.
func (w *SliceWrapper) Devices(kind device.Kind, model string, count int, memMiB int64) *SliceWrapper {
	for i := 0; i < count; i++ {
		idx := len(w.slice.Spec.Devices)
		w.Device(device.Device{
			ID: fmt.Sprintf("%s-%s-%d", kind, w.node, idx), Index: idx, Kind: kind, Vendor: "test",
			Model: model, MemoryMiB: memMiB, Health: device.Healthy, NUMANode: 0, LinkGroup: w.node + "-link",
		})
	}
	return w
}

// GPUs appends count GPUs.
func (w *SliceWrapper) GPUs(model string, count int, memMiB int64) *SliceWrapper {
	return w.Devices(device.GPU, model, count, memMiB)
}

// Device appends d as the agent publishes it.
func (w *SliceWrapper) Device(d device.Device) *SliceWrapper {
	w.slice.Spec.Devices = append(w.slice.Spec.Devices, contract.DRADevice(d))
	return w
}

// Raw appends a device as given.
func (w *SliceWrapper) Raw(d resourceapi.Device) *SliceWrapper {
	w.slice.Spec.Devices = append(w.slice.Spec.Devices, d)
	return w
}

// Obj returns the slice.
func (w *SliceWrapper) Obj() *resourceapi.ResourceSlice { s := w.slice.DeepCopy(); return s }

// ClaimWrapper builds a ResourceClaim.
type ClaimWrapper struct{ claim resourceapi.ResourceClaim }

// MakeClaim starts a claim with no requests.
func MakeClaim(namespace, name string) *ClaimWrapper {
	return &ClaimWrapper{claim: resourceapi.ResourceClaim{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, UID: types.UID(namespace + "-" + name),
	}}}
}

// Share adds an exact request of one device of class with percent of it
// (percent 0: no capacity request).
func (w *ClaimWrapper) Share(request, class string, percent int64) *ClaimWrapper {
	return w.Request(request, class, 1, percent)
}

// Request adds an exact request of count devices of class, each with
// percent (0: none asked).
func (w *ClaimWrapper) Request(request, class string, count, percent int64) *ClaimWrapper {
	ex := &resourceapi.ExactDeviceRequest{DeviceClassName: class, AllocationMode: resourceapi.DeviceAllocationModeExactCount, Count: count}
	if percent != 0 {
		ex.Capacity = &resourceapi.CapacityRequirements{Requests: map[resourceapi.QualifiedName]resource.Quantity{
			contract.DRACapacityPercent: *resource.NewQuantity(percent, resource.DecimalSI),
		}}
	}
	w.claim.Spec.Devices.Requests = append(w.claim.Spec.Devices.Requests, resourceapi.DeviceRequest{Name: request, Exactly: ex})
	return w
}

// Allocated records a result of driver for request on device of pool with
// percent consumed (0: no consumed capacity recorded).
func (w *ClaimWrapper) Allocated(driver, pool, request, dev string, percent int64) *ClaimWrapper {
	if w.claim.Status.Allocation == nil {
		w.claim.Status.Allocation = &resourceapi.AllocationResult{}
	}
	r := resourceapi.DeviceRequestAllocationResult{Request: request, Driver: driver, Pool: pool, Device: dev}
	if percent != 0 {
		r.ConsumedCapacity = map[resourceapi.QualifiedName]resource.Quantity{contract.DRACapacityPercent: *resource.NewQuantity(percent, resource.DecimalSI)}
		r.ShareID = ptr.To(types.UID(fmt.Sprintf("%s-%s-%d", w.claim.Name, request, len(w.claim.Status.Allocation.Devices.Results))))
	}
	w.claim.Status.Allocation.Devices.Results = append(w.claim.Status.Allocation.Devices.Results, r)
	return w
}

// Gantry records a result on a Gantry device of the pool named after node.
func (w *ClaimWrapper) Gantry(node, request, dev string, percent int64) *ClaimWrapper {
	return w.Allocated(contract.DRADriver, node, request, dev, percent)
}

// Obj returns the claim.
func (w *ClaimWrapper) Obj() *resourceapi.ResourceClaim { return w.claim.DeepCopy() }

// DeviceClass returns Gantry's DeviceClass for kind, named "<kind>.gantry.dev",
// as manifests/dra ships it.
func DeviceClass(kind device.Kind) *resourceapi.DeviceClass {
	return &resourceapi.DeviceClass{
		ObjectMeta: metav1.ObjectMeta{Name: string(kind) + "." + contract.Domain, Labels: map[string]string{contract.LabelDeviceClassKind: string(kind)}},
		Spec: resourceapi.DeviceClassSpec{Selectors: []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{
			Expression: fmt.Sprintf("device.driver == %q && device.attributes[%q].kind == %q", contract.DRADriver, contract.DRADriver, kind),
		}}}},
	}
}
