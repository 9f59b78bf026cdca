// Package dra reads Kubernetes Dynamic Resource Allocation objects into core's
// one allocation model. In DRA mode a node's agent publishes each card as one
// device of the driver gpu.gantry.dev (see core/contract's DRA wire format)
// and pods hold shares of cards through allocated ResourceClaims; Build turns
// ResourceSlices and claims into the same state.NodeState that the inventory
// annotation and pod records give in device-plugin mode, so Fit, every policy,
// inspect, the autoscaler and the simulator decide with one model in either
// mode. RequestOf turns a pod's unallocated claims into the share.Request a
// policy places, and DeviceOrder ranks a node's cards the way a policy would
// choose them, for a first-fit allocator to follow. ClaimTemplate is the
// other direction: the ResourceClaimTemplate (named by ClaimTemplateName)
// that asks, through a claim, the share a container asks through
// gantry.dev/<kind>-percent, which the webhook's DRA rewrite references.
//
// Like all of core, the package is pure: no clients, no logging, no clock.
package dra
