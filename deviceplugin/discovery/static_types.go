package discovery

import "github.com/gantry-dev/gantry/core/device"

// The static inventory file's version and kind.
const (
	StaticAPIVersion = "gantry.dev/v1alpha1"
	StaticKind       = "DeviceInventory"
)

// DeviceInventoryFile is a node's devices written down by hand or by a
// vendor tool:
//
//	apiVersion: gantry.dev/v1alpha1
//	kind: DeviceInventory
//	spec:
//	  visibleDevicesEnv: ASCEND_VISIBLE_DEVICES
//	  devices:
//	  - id: npu-7f3a-0
//	    kind: npu
//	    vendor: huawei
//	    model: Ascend910B
//	    memoryMiB: 65536
//	    numaNode: 0
//	    linkGroup: hccs-0
//	    runtimeID: "0"
//	    devicePaths: [/dev/davinci0]
type DeviceInventoryFile struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Spec       DeviceInventorySpec `json:"spec"`
}

// DeviceInventorySpec lists the devices.
type DeviceInventorySpec struct {
	// VisibleDevicesEnv is the default variable listing a container's
	// devices; each device may override it.
	VisibleDevicesEnv string         `json:"visibleDevicesEnv,omitempty"`
	Devices           []StaticDevice `json:"devices"`
}

// StaticDevice is one device of the file. Optional fields are pointers so
// that defaulting can tell "unset" from zero.
type StaticDevice struct {
	// ID must be stable: kubelet's checkpoint remembers slot IDs made from it.
	ID string `json:"id"`
	// Index defaults to the device's position in the list.
	Index  *int        `json:"index,omitempty"`
	Kind   device.Kind `json:"kind"`
	Vendor string      `json:"vendor,omitempty"`
	Model  string      `json:"model"`
	// MemoryMiB is the device memory.
	MemoryMiB int64 `json:"memoryMiB"`
	// NUMANode defaults to -1 (unknown).
	NUMANode  *int   `json:"numaNode,omitempty"`
	LinkGroup string `json:"linkGroup,omitempty"`
	// Health defaults to Healthy. Rewriting the file with Unhealthy (and
	// back) is how a vendor health tool reports a device.
	Health            device.Health `json:"health,omitempty"`
	VisibleDevicesEnv string        `json:"visibleDevicesEnv,omitempty"`
	// RuntimeID is how the runtime names the device; defaults to ID.
	RuntimeID   string   `json:"runtimeID,omitempty"`
	DevicePaths []string `json:"devicePaths,omitempty"`
}
