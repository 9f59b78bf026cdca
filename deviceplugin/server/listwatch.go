package server

import (
	"k8s.io/klog/v2"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// ListAndWatch implements pluginapi.DevicePluginServer: it sends every slot
// of every device of the plugin's kind, then the full list again whenever a
// device's health changes. An unhealthy device's slots are sent Unhealthy,
// which withdraws them from the node's allocatable.
func (p *Plugin) ListAndWatch(_ *pluginapi.Empty, stream pluginapi.DevicePlugin_ListAndWatchServer) error {
	ctx := stream.Context()
	logger := klog.FromContext(ctx).WithValues("resource", p.resource)
	var last []*pluginapi.Device
	for {
		inv, changed := p.cfg.Devices.Snapshot()
		devs := Slots(p.cfg.Kind, inv)
		if !sameDevices(last, devs) {
			if err := stream.Send(&pluginapi.ListAndWatchResponse{Devices: devs}); err != nil {
				return err
			}
			logger.V(2).Info("Sent devices to kubelet", "slots", len(devs), "healthySlots", countHealthy(devs))
			last = devs
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// Slots returns the device-plugin view of every device of kind:
// UnitsPerDevice slot IDs each, with the device's health and NUMA node.
func Slots(kind device.Kind, inv device.Inventory) []*pluginapi.Device {
	var out []*pluginapi.Device
	for _, d := range inv.Devices {
		if d.Kind != kind {
			continue
		}
		health := pluginapi.Healthy
		if !d.Healthy() {
			health = pluginapi.Unhealthy
		}
		var topo *pluginapi.TopologyInfo
		if d.NUMANode >= 0 {
			topo = &pluginapi.TopologyInfo{Nodes: []*pluginapi.NUMANode{{ID: int64(d.NUMANode)}}}
		}
		for i := 0; i < device.UnitsPerDevice; i++ {
			out = append(out, &pluginapi.Device{ID: contract.SlotID(d.ID, i), Health: health, Topology: topo})
		}
	}
	return out
}

func sameDevices(a, b []*pluginapi.Device) bool {
	if a == nil || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Health != b[i].Health {
			return false
		}
	}
	return true
}

func countHealthy(devs []*pluginapi.Device) int {
	n := 0
	for _, d := range devs {
		if d.Health == pluginapi.Healthy {
			n++
		}
	}
	return n
}
