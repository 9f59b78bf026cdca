// Package dra is the node agent's DRA mode: the kubelet plugin of the DRA
// driver gpu.gantry.dev. It publishes the node's cards as one ResourceSlice
// through k8s.io/dynamic-resource-allocation/kubeletplugin (one device per
// card in core/contract's DRA format: allowMultipleAllocations, capacity
// percent and memory, health as a device taint), and serves kubelet's
// NodePrepareResources/NodeUnprepareResources.
//
// The handoff needs no guessing: the scheduler wrote the exact card and the
// consumed percent into the claim, so PrepareResourceClaims turns each
// allocation result into the CDI devices of that share (deviceplugin/cdi,
// the same specs the device-plugin mode hands out), whose limits follow
// from the consumed capacity alone. Preparation is idempotent and
// checkpointed in the plugin's data directory, so a restarted driver
// answers kubelet's repeated calls with what it prepared before and can
// unprepare claims prepared by its predecessor. As the last line of
// defense it refuses a claim that would take a card over 100 percent
// together with the claims it has prepared.
package dra
