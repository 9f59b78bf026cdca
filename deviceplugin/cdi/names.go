package cdi

import (
	"fmt"
	"strconv"

	"tags.cncf.io/container-device-interface/pkg/parser"

	"github.com/gantry-dev/gantry/core/device"
)

// Vendor is the CDI vendor of Gantry's own devices.
const Vendor = "gantry.dev"

// ToolkitKind is the CDI kind of the NVIDIA Container Toolkit's GPUs.
const ToolkitKind = "nvidia.com/gpu"

// Class returns the CDI class of Gantry's devices of kind k ("gpu", "npu").
func Class(k device.Kind) string { return string(k) }

// Kind returns the CDI kind of Gantry's devices of kind k, e.g. "gantry.dev/gpu".
func Kind(k device.Kind) string { return Vendor + "/" + Class(k) }

// Share is one device and the units (1..device.UnitsPerDevice) a container
// gets of it.
type Share struct {
	Device device.Device
	Units  int
}

// Whole reports whether the share is the whole device.
func (s Share) Whole() bool { return s.Units >= device.UnitsPerDevice }

// MemoryLimitMiB is the device memory the share may use.
func (s Share) MemoryLimitMiB() int64 {
	return s.Device.MemoryMiB * int64(min(s.Units, device.UnitsPerDevice)) / device.UnitsPerDevice
}

// DeviceName returns the unqualified name of Gantry's CDI device for s:
// the device ID for a whole device, "<id>-p<units>" for a share.
func DeviceName(s Share) string {
	if s.Whole() {
		return s.Device.ID
	}
	return s.Device.ID + "-p" + strconv.Itoa(s.Units)
}

// QualifiedName returns "gantry.dev/<kind>=<DeviceName(s)>".
func QualifiedName(s Share) string {
	return parser.QualifiedName(Vendor, Class(s.Device.Kind), DeviceName(s))
}

// specName is the file name (without extension) of one device's spec.
func specName(d device.Device) string {
	return Vendor + "-" + Class(d.Kind) + "_" + d.ID
}

// validateID checks that a device ID can name CDI devices and spec files.
func validateID(d device.Device) error {
	if err := parser.ValidateDeviceName(DeviceName(Share{Device: d, Units: 1})); err != nil {
		return fmt.Errorf("device %q cannot be named in CDI: %w", d.ID, err)
	}
	return nil
}
