package discovery

import (
	"context"
	"time"

	"github.com/gantry-dev/gantry/core/device"
)

// Backend discovers one vendor's devices. A vendor backend (Ascend, Neuron,
// ROCm, ...) implements these three methods and nothing else; everything
// downstream (slot IDs, steering, publishing, records) is vendor-neutral.
type Backend interface {
	// Name identifies the backend in logs and errors, e.g. "nvml".
	Name() string

	// Devices returns every device the backend sees, with Index unique on
	// the node and ID stable across reboots and restarts (kubelet's
	// checkpoint maps containers to slot IDs built from it). Devices report
	// their health as last known; a freshly discovered device is Healthy.
	//
	// Implementation required. It must not panic on any hardware error: it
	// returns an error naming the call that failed and the device index.
	Devices() (device.Inventory, error)

	// Watch streams health changes until ctx is done, then closes the
	// channel. A backend without health reporting returns a channel that
	// only closes. An error means watching could not start at all.
	//
	// Implementation required. A device that becomes usable again must be
	// reported Healthy again: the agent never needs a restart to recover.
	Watch(ctx context.Context) (<-chan HealthEvent, error)

	// Runtime says how a container is given devices of this backend.
	//
	// Implementation required.
	Runtime() Runtime
}

// HealthEvent is a change of one device's health.
type HealthEvent struct {
	DeviceID string
	Health   device.Health
	// Reason is a short human-readable cause, e.g. "XID 79".
	Reason string
	Time   time.Time
}

// Runtime maps device ID to how a container is given that device. A device
// without an entry is named by its ID in the kind's default variable (see
// DefaultVisibleDevicesEnv) and needs no device nodes.
type Runtime map[string]DeviceRuntime

// DeviceRuntime is the runtime view of one device.
type DeviceRuntime struct {
	// VisibleDevicesEnv is the variable listing the devices a container may
	// use, e.g. NVIDIA_VISIBLE_DEVICES or ASCEND_VISIBLE_DEVICES.
	VisibleDevicesEnv string `json:"visibleDevicesEnv,omitempty"`
	// RuntimeID is how VisibleDevicesEnv names the device (the UUID for
	// NVIDIA, a minor number for some NPU runtimes).
	RuntimeID string `json:"runtimeID,omitempty"`
	// Paths are host device nodes mounted into the container at the same
	// path, e.g. /dev/davinci0.
	Paths []string `json:"paths,omitempty"`
}

// DefaultVisibleDevicesEnv is the variable a device of kind k is listed in
// when its backend names none.
func DefaultVisibleDevicesEnv(k device.Kind) string {
	if k == device.GPU {
		return "NVIDIA_VISIBLE_DEVICES"
	}
	return "GANTRY_VISIBLE_DEVICES"
}

// For returns the runtime view of d, filling in defaults.
func (r Runtime) For(d device.Device) DeviceRuntime {
	out := r[d.ID]
	if out.VisibleDevicesEnv == "" {
		out.VisibleDevicesEnv = DefaultVisibleDevicesEnv(d.Kind)
	}
	if out.RuntimeID == "" {
		out.RuntimeID = d.ID
	}
	return out
}
