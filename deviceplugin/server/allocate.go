package server

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
)

// Environment variables and annotations Allocate sets. Multi-device values
// are comma-separated in the order of the devices' indices.
const (
	// EnvMemoryLimitMiB is the device memory the container may use on each
	// device, for a CUDA shim (or the application) to enforce.
	EnvMemoryLimitMiB = cdi.EnvMemoryLimitMiB
	// EnvSharePercent is the share of each device, 1..100.
	EnvSharePercent = cdi.EnvSharePercent
	// AnnotationDevices is set on the container (CRI annotation) as
	// "<deviceID>=<units>,...", for runtime hooks.
	AnnotationDevices = contract.Domain + "/devices"
)

// CDINamer names the CDI devices of one container's shares; *cdi.Writer is
// one.
type CDINamer interface {
	Devices(shares []cdi.Share) ([]string, error)
}

// ContainerResponse builds kubelet's answer for one container from the slot
// IDs alone: it groups them by device (contract.GroupSlots) and looks each
// device up in the node's inventory. With names (the cdi strategy) the
// container gets CDI devices, whose edits carry its limits, and no variable
// that selects devices; with nil names (the envvar strategy) devices are
// listed in the runtime's visible-devices variables, which a pod can
// override. It fails on a malformed or repeated ID, an unknown device, a
// device of another kind, a share below one device that spans several
// devices, and a request above one device that is not made of whole
// devices.
func ContainerResponse(kind device.Kind, ids []string, inv device.Inventory, rt discovery.Runtime, names CDINamer) (*pluginapi.ContainerAllocateResponse, error) {
	shares, err := sharesOf(kind, ids, inv)
	if err != nil {
		return nil, err
	}
	resp := &pluginapi.ContainerAllocateResponse{Annotations: map[string]string{}}
	ann := make([]string, len(shares))
	for i, s := range shares {
		ann[i] = fmt.Sprintf("%s=%d", s.Device.ID, s.Units)
	}
	resp.Annotations[AnnotationDevices] = strings.Join(ann, ",")
	if names != nil {
		devs, err := names.Devices(shares)
		if err != nil {
			return nil, err
		}
		for _, d := range devs {
			resp.CdiDevices = append(resp.CdiDevices, &pluginapi.CDIDevice{Name: d})
		}
		return resp, nil
	}
	resp.Envs = map[string]string{}
	visible := map[string][]string{}
	var envOrder, mem, pct []string
	for _, s := range shares {
		r := rt.For(s.Device)
		if _, ok := visible[r.VisibleDevicesEnv]; !ok {
			envOrder = append(envOrder, r.VisibleDevicesEnv)
		}
		visible[r.VisibleDevicesEnv] = append(visible[r.VisibleDevicesEnv], r.RuntimeID)
		mem = append(mem, strconv.FormatInt(s.MemoryLimitMiB(), 10))
		pct = append(pct, strconv.Itoa(s.Units))
		for _, p := range r.Paths {
			resp.Devices = append(resp.Devices, &pluginapi.DeviceSpec{ContainerPath: p, HostPath: p, Permissions: "rw"})
		}
	}
	for _, env := range envOrder {
		resp.Envs[env] = strings.Join(visible[env], ",")
	}
	resp.Envs[EnvMemoryLimitMiB] = strings.Join(mem, ",")
	resp.Envs[EnvSharePercent] = strings.Join(pct, ",")
	return resp, nil
}

func sharesOf(kind device.Kind, ids []string, inv device.Inventory) ([]cdi.Share, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("no device IDs")
	}
	devs, units, err := contract.GroupSlots(ids)
	if err != nil {
		return nil, err
	}
	shares := make([]cdi.Share, 0, len(devs))
	for _, id := range devs {
		d, ok := inv.ByID(id)
		if !ok {
			return nil, fmt.Errorf("slot IDs name device %q, which this node does not have", id)
		}
		if d.Kind != kind {
			return nil, fmt.Errorf("slot IDs name device %q of kind %s; this plugin serves %s", id, d.Kind, kind)
		}
		shares = append(shares, cdi.Share{Device: d, Units: units[id]})
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].Device.Index < shares[j].Device.Index })

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
			if s.Units != device.UnitsPerDevice {
				return nil, fmt.Errorf("a request for %d whole devices got a partial device: %s", total/device.UnitsPerDevice, describe(shares))
			}
		}
	}
	return shares, nil
}

func describe(shares []cdi.Share) string {
	parts := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = fmt.Sprintf("%d%% of %s", s.Units, s.Device.ID)
	}
	return strings.Join(parts, ", ")
}
