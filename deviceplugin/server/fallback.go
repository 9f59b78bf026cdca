package server

import (
	"sort"
	"strconv"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// freeSlots maps device ID to its free slot indices, ascending.
type freeSlots map[string][]int

// groupFree parses kubelet's available IDs; malformed IDs are skipped (they
// can only come from another plugin's bug and are never proposed).
func groupFree(available []string, exclude map[string]bool) freeSlots {
	free := freeSlots{}
	for _, id := range available {
		if exclude[id] {
			continue
		}
		dev, slot, err := contract.ParseSlotID(id)
		if err != nil {
			continue
		}
		free[dev] = append(free[dev], slot)
	}
	for _, s := range free {
		sort.Ints(s)
	}
	return free
}

// take returns the n lowest free slot IDs of a device.
func (f freeSlots) take(dev string, n int) []string {
	out := make([]string, n)
	for i := 0; i < n; i++ {
		out[i] = contract.SlotID(dev, f[dev][i])
	}
	return out
}

// fallback proposes slots when no scheduler intent matches: a share below
// one device goes to the device with the least room that fits it (best fit,
// so whole devices stay free for whole-device requests); whole devices come
// from fully free devices, preferring one link group, then one NUMA node.
// Room that pending intents of other pods expect (reserved) is spared when
// another device fits, and used only as a last resort. It returns nil when
// nothing fits in the Gantry sense, and kubelet then chooses alone.
func fallback(inv device.Inventory, free freeSlots, reserved map[string]int, size int) []string {
	if size <= 0 {
		return nil
	}
	if size < device.UnitsPerDevice {
		for _, spare := range []bool{true, false} {
			var best *device.Device
			room := func(d *device.Device) int {
				if spare {
					return len(free[d.ID]) - reserved[d.ID]
				}
				return len(free[d.ID])
			}
			for i := range inv.Devices {
				d := &inv.Devices[i]
				if room(d) >= size && (best == nil || room(d) < room(best)) {
					best = d
				}
			}
			if best != nil {
				return free.take(best.ID, size)
			}
		}
		return nil
	}
	if size%device.UnitsPerDevice != 0 {
		return nil
	}
	want := size / device.UnitsPerDevice
	for _, spare := range []bool{true, false} {
		var full []device.Device
		for _, d := range inv.Devices {
			if len(free[d.ID]) == device.UnitsPerDevice && (!spare || reserved[d.ID] == 0) {
				full = append(full, d)
			}
		}
		if len(full) < want {
			continue
		}
		pick := pickGroup(full, want, func(d device.Device) (string, bool) { return d.LinkGroup, d.LinkGroup != "" })
		if pick == nil {
			pick = pickGroup(full, want, func(d device.Device) (string, bool) { return strconv.Itoa(d.NUMANode), d.NUMANode >= 0 })
		}
		if pick == nil {
			pick = full[:want]
		}
		var out []string
		for _, d := range pick {
			out = append(out, free.take(d.ID, device.UnitsPerDevice)...)
		}
		return out
	}
	return nil
}

// pickGroup returns want devices from the smallest group that has enough,
// groups keyed by key; devs is ordered by index.
func pickGroup(devs []device.Device, want int, key func(device.Device) (string, bool)) []device.Device {
	groups := map[string][]device.Device{}
	var order []string
	for _, d := range devs {
		k, ok := key(d)
		if !ok {
			continue
		}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], d)
	}
	var best []device.Device
	for _, k := range order {
		g := groups[k]
		if len(g) >= want && (best == nil || len(g) < len(best)) {
			best = g
		}
	}
	if best == nil {
		return nil
	}
	return best[:want]
}
