// Package server serves the kubelet device-plugin API (v1beta1) for one
// Gantry resource: gantry.dev/gpu-percent or gantry.dev/npu-percent.
//
// Every device is advertised as UnitsPerDevice slot IDs "<deviceID>::<i>"
// (contract.SlotID). A container asking for 25 % gets 25 slots, so the
// device and the share follow from the IDs alone and Allocate never has to
// know which pod it serves. GetPreferredAllocation steers kubelet to slots on
// the device the scheduler chose (see Steerer for the matching rule and its
// limits); whatever kubelet then picks is recorded by the reconcile package
// and wins over the scheduler's intent.
//
// Plugin.Run serves the API on a socket in kubelet's device-plugin directory,
// registers with kubelet, and serves and registers again whenever kubelet
// restarts (its socket is recreated) or removes the plugin's socket.
package server
