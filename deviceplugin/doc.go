// Package deviceplugin is Gantry's node agent. It discovers the node's
// accelerators (discovery), publishes their inventory on the Node object
// (publish), serves the kubelet device-plugin API with slot IDs that name the
// physical device (server), and records on each pod what kubelet really gave
// it (reconcile). The agent package wires these together; README.md explains
// the handoff from the scheduler to kubelet and its limits.
//
// The agent imports only core/device, core/contract and core/share from the
// rest of Gantry.
package deviceplugin
