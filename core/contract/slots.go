package contract

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/core/device"
)

// The device plugin advertises UnitsPerDevice slot IDs per device for the
// percent resources. A slot ID names its physical device, so whatever slots
// kubelet hands to Allocate, the device and the share follow from the IDs
// alone: n slots of device D mean n percent of D.

const slotSep = "::"

// SlotID returns the ID of slot i (0..UnitsPerDevice-1) of the device.
func SlotID(deviceID string, i int) string {
	return deviceID + slotSep + strconv.Itoa(i)
}

// ParseSlotID splits a slot ID into device ID and slot index.
func ParseSlotID(id string) (deviceID string, slot int, err error) {
	at := strings.LastIndex(id, slotSep)
	if at < 0 {
		return "", 0, fmt.Errorf("slot id %q: missing %q separator", id, slotSep)
	}
	if at == 0 {
		return "", 0, fmt.Errorf("slot id %q: empty device id", id)
	}
	// Only the canonical decimal form SlotID writes is accepted, so that
	// one slot has one ID ("d::7", never "d::07" or "d::+7").
	num := id[at+len(slotSep):]
	slot, err = strconv.Atoi(num)
	if err != nil || slot < 0 || slot >= device.UnitsPerDevice || strconv.Itoa(slot) != num {
		return "", 0, fmt.Errorf("slot id %q: slot index must be 0..%d", id, device.UnitsPerDevice-1)
	}
	return id[:at], slot, nil
}

// GroupSlots counts the slots per device in ids, in the order devices first
// appear. It fails on the first malformed or repeated ID.
func GroupSlots(ids []string) (devices []string, units map[string]int, err error) {
	units = map[string]int{}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return nil, nil, fmt.Errorf("slot id %q repeated", id)
		}
		seen[id] = true
		dev, _, err := ParseSlotID(id)
		if err != nil {
			return nil, nil, err
		}
		if units[dev] == 0 {
			devices = append(devices, dev)
		}
		units[dev]++
	}
	return devices, units, nil
}
