package cdi

import (
	"fmt"
	"strconv"

	cdispec "tags.cncf.io/container-device-interface/specs-go"

	"github.com/gantry-dev/gantry/core/device"
)

// Variables Gantry's CDI devices set. The container runtime applies them
// after the pod's own environment, so a pod spec cannot override them.
const (
	// EnvSharePercent is the share of the device, 1..100.
	EnvSharePercent = "GANTRY_DEVICE_SHARE_PERCENT"
	// EnvMemoryLimitMiB is the device memory the container may use.
	EnvMemoryLimitMiB = "GANTRY_DEVICE_MEMORY_LIMIT_MIB"
	// EnvMPSPipeDirectory tells a CUDA client where the MPS daemon listens.
	EnvMPSPipeDirectory = "CUDA_MPS_PIPE_DIRECTORY"
	// EnvMPSThreadPercentage caps the client's share of the SMs; a client
	// can only lower it.
	EnvMPSThreadPercentage = "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"
	// EnvMPSPinnedMemLimit caps the device memory of the client, per
	// device ordinal as the container sees it: "0=<MiB>M".
	EnvMPSPinnedMemLimit = "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"
	// EnvNVIDIAVisibleDevices is the NVIDIA runtime's legacy selector.
	// Gantry's devices set it to "void" wherever the toolkit's CDI device
	// is injected, so a pod's own value selects nothing.
	EnvNVIDIAVisibleDevices = "NVIDIA_VISIBLE_DEVICES"
)

// cdiVersion is the spec version Gantry writes. 0.6.0 is the first with
// device annotations and is read by every runtime with CDI support.
const cdiVersion = "0.6.0"

// ShmPath is where the MPS shm directory is mounted in a client.
const ShmPath = "/dev/shm"

// MPS is what a client container needs to reach the node's MPS daemon.
type MPS struct {
	// PipeDir is the daemon's pipe directory on the host; it is mounted at
	// the same path.
	PipeDir string
	// ShmDir is the host directory the daemon and its clients share as
	// /dev/shm.
	ShmDir string
}

// Card is one device to write a spec for.
type Card struct {
	Device device.Device
	// DeviceNodes are host device nodes given to the container at the same
	// path when the toolkit's CDI device does not cover the card (NPUs).
	DeviceNodes []string
	// ToolkitNames are the unqualified names under which the NVIDIA
	// toolkit's spec may list the card, tried in order; empty means the
	// device ID, then its index.
	ToolkitNames []string
}

// buildSpec returns the spec of one card: its whole-device CDI device and,
// on a card that takes shares, one device per share size. mps is nil when
// the card is not isolated by MPS. toolkit reports whether the toolkit's
// device is injected beside Gantry's.
func buildSpec(c Card, mps *MPS, toolkit bool) *cdispec.Spec {
	spec := &cdispec.Spec{Version: cdiVersion, Kind: Kind(c.Device.Kind)}
	for _, p := range c.DeviceNodes {
		spec.ContainerEdits.DeviceNodes = append(spec.ContainerEdits.DeviceNodes, &cdispec.DeviceNode{Path: p, HostPath: p, Permissions: "rw"})
	}
	if toolkit {
		spec.ContainerEdits.Env = append(spec.ContainerEdits.Env, EnvNVIDIAVisibleDevices+"=void")
	}
	if mps != nil {
		spec.ContainerEdits.Env = append(spec.ContainerEdits.Env, EnvMPSPipeDirectory+"="+mps.PipeDir)
		spec.ContainerEdits.Mounts = []*cdispec.Mount{
			{HostPath: mps.PipeDir, ContainerPath: mps.PipeDir, Options: []string{"rbind", "rw"}},
			{HostPath: mps.ShmDir, ContainerPath: ShmPath, Options: []string{"rbind", "rw"}},
		}
	}
	for u := 1; u <= device.UnitsPerDevice; u++ {
		s := Share{Device: c.Device, Units: u}
		spec.Devices = append(spec.Devices, cdispec.Device{Name: DeviceName(s), ContainerEdits: shareEdits(s, mps)})
	}
	return spec
}

// shareEdits are the edits of one share: its size and memory, and on an MPS
// card the client limits. A whole device gets no MPS limits: it reaches the
// daemon (the card is in EXCLUSIVE_PROCESS mode) with the whole card.
func shareEdits(s Share, mps *MPS) cdispec.ContainerEdits {
	env := []string{
		EnvSharePercent + "=" + strconv.Itoa(min(s.Units, device.UnitsPerDevice)),
		EnvMemoryLimitMiB + "=" + strconv.FormatInt(s.MemoryLimitMiB(), 10),
	}
	if mps != nil && !s.Whole() {
		env = append(env,
			EnvMPSThreadPercentage+"="+strconv.Itoa(s.Units),
			fmt.Sprintf("%s=0=%dM", EnvMPSPinnedMemLimit, s.MemoryLimitMiB()))
	}
	return cdispec.ContainerEdits{Env: env}
}
