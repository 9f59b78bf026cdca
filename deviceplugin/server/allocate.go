package server

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
)

// Environment variables and annotations Allocate sets. Multi-device values
// are comma-separated in the order of the visible-devices variable.
const (
	// EnvMPSMemLimit is read by CUDA MPS clients: "<uuid>=<MiB>M,...".
	EnvMPSMemLimit = "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"
	// EnvMemoryLimitMiB is the device memory the container may use on each
	// device, for a CUDA shim (or the application) to enforce.
	EnvMemoryLimitMiB = "GANTRY_DEVICE_MEMORY_LIMIT_MIB"
	// EnvSharePercent is the share of each device, 1..100.
	EnvSharePercent = "GANTRY_DEVICE_SHARE_PERCENT"
	// AnnotationDevices is set on the container (CRI annotation) as
	// "<deviceID>=<units>,...", for runtime hooks.
	AnnotationDevices = contract.Domain + "/devices"
)

// share is one device and the units a container gets of it.
type share struct {
	dev   device.Device
	units int
}

// ContainerResponse builds kubelet's answer for one container from the slot
// IDs alone: it groups them by device (contract.GroupSlots) and looks each
// device up in the node's inventory. It fails on a malformed or repeated
// ID, an unknown device, a device of another kind, a share below one device
// that spans several devices, and a request above one device that is not
// made of whole devices.
func ContainerResponse(kind device.Kind, ids []string, inv device.Inventory, rt discovery.Runtime) (*pluginapi.ContainerAllocateResponse, error) {
	shares, err := sharesOf(kind, ids, inv)
	if err != nil {
		return nil, err
	}
	resp := &pluginapi.ContainerAllocateResponse{Envs: map[string]string{}, Annotations: map[string]string{}}
	visible := map[string][]string{}
	var envOrder, mps, mem, pct, ann []string
	for _, s := range shares {
		r := rt.For(s.dev)
		if _, ok := visible[r.VisibleDevicesEnv]; !ok {
			envOrder = append(envOrder, r.VisibleDevicesEnv)
		}
		visible[r.VisibleDevicesEnv] = append(visible[r.VisibleDevicesEnv], r.RuntimeID)
		limit := s.dev.MemoryMiB * int64(s.units) / device.UnitsPerDevice
		if kind == device.GPU {
			mps = append(mps, fmt.Sprintf("%s=%dM", r.RuntimeID, limit))
		}
		mem = append(mem, strconv.FormatInt(limit, 10))
		pct = append(pct, strconv.Itoa(s.units))
		ann = append(ann, fmt.Sprintf("%s=%d", s.dev.ID, s.units))
		for _, p := range r.Paths {
			resp.Devices = append(resp.Devices, &pluginapi.DeviceSpec{ContainerPath: p, HostPath: p, Permissions: "rw"})
		}
	}
	for _, env := range envOrder {
		resp.Envs[env] = strings.Join(visible[env], ",")
	}
	if len(mps) > 0 {
		resp.Envs[EnvMPSMemLimit] = strings.Join(mps, ",")
	}
	resp.Envs[EnvMemoryLimitMiB] = strings.Join(mem, ",")
	resp.Envs[EnvSharePercent] = strings.Join(pct, ",")
	resp.Annotations[AnnotationDevices] = strings.Join(ann, ",")
	return resp, nil
}

func sharesOf(kind device.Kind, ids []string, inv device.Inventory) ([]share, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("no device IDs")
	}
	devs, units, err := contract.GroupSlots(ids)
	if err != nil {
		return nil, err
	}
	shares := make([]share, 0, len(devs))
	for _, id := range devs {
		d, ok := inv.ByID(id)
		if !ok {
			return nil, fmt.Errorf("slot IDs name device %q, which this node does not have", id)
		}
		if d.Kind != kind {
			return nil, fmt.Errorf("slot IDs name device %q of kind %s; this plugin serves %s", id, d.Kind, kind)
		}
		shares = append(shares, share{dev: d, units: units[id]})
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].dev.Index < shares[j].dev.Index })

	total := len(ids)
	switch {
	case total < device.UnitsPerDevice && len(shares) > 1:
		return nil, fmt.Errorf("a %d%% share must come from one device, but the %d slot IDs span %d devices (%s)",
			total, total, len(shares), describe(shares))
	case total >= device.UnitsPerDevice && total%device.UnitsPerDevice != 0:
		return nil, fmt.Errorf("%d slot IDs are not a whole number of devices (above %d a request must be a multiple of %d)",
			total, device.UnitsPerDevice, device.UnitsPerDevice)
	case total >= device.UnitsPerDevice:
		for _, s := range shares {
			if s.units != device.UnitsPerDevice {
				return nil, fmt.Errorf("a request for %d whole devices got a partial device: %s", total/device.UnitsPerDevice, describe(shares))
			}
		}
	}
	return shares, nil
}

func describe(shares []share) string {
	parts := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = fmt.Sprintf("%d%% of %s", s.units, s.dev.ID)
	}
	return strings.Join(parts, ", ")
}
