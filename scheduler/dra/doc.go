// Package dra is the GantryDRA kube-scheduler plugin: Gantry's placement for
// shares of cards that pods hold through Kubernetes ResourceClaims (DRA
// mode), without giving up any of upstream's DRA semantics.
//
// # The problem
//
// In DRA mode each card is one device of the driver gpu.gantry.dev with
// consumable capacity "percent". Upstream's structured allocator decides
// which card a claim gets, and it is first-fit: pools in name order, slices
// in name order, devices in slice order. Nothing upstream scores devices, so
// on the DRA path every scheduler loses fragmentation-aware placement.
//
// # The design
//
// GantryDRA is the in-tree DynamicResources plugin itself, built by
// dynamicresources.New under a Gantry name, with one change to what it sees:
// its framework handle's SharedDRAManager lists ResourceSlices with each
// node's Gantry devices in the order the configured core/policy strategy
// (FGD by default) prefers for the pod in this cycle. Upstream's first-fit
// then takes the strategy's card. Everything else is upstream's own code:
// CEL selectors, constraints, consumable-capacity accounting and its
// request policy, device taints, prioritized lists, admin access, the
// assume cache and in-flight allocations, the claim write in PreBind, its
// queueing hints and its PostFilter deallocation. Claims for other drivers'
// devices are allocated exactly as by the stock plugin (their slices are
// listed unchanged).
//
// The order is computed in PreFilter, because that is where upstream builds
// its allocator from the slice list: GantryDRA reads the pod's claims,
// turns those of Gantry's DeviceClasses (labelled gantry.dev/kind) into a
// core share.Request (core/dra.RequestOf, which also rejects malformed
// requests with a specific reason), builds every node's core state from
// slices and claims (core/dra.Build, the same NodeState that device-plugin
// mode builds from annotations), and ranks each node's cards with
// core/dra.DeviceOrder: the strategy's pick first, then its pick were that
// card gone, and so on. If a claim's selectors rule out the strategy's
// first choice the allocator falls through to its second. The strategy's
// node-level score is GantryDRA's Score, normalised as the strategy asks,
// so FGD decides both the node and the card.
//
// # Alternatives considered
//
//   - Writing the claim's allocation ourselves (KAI's binder does this):
//     it would re-implement CEL, constraints, capacity policies and taints,
//     and drift from upstream with every release.
//   - Renaming slices or pools so name order is FGD order: names are the
//     driver's and persist, while the right order changes with every pod.
//   - Reordering lazily per node in Filter: the allocator reads the slices
//     it was given in PreFilter from many goroutines; changing them under it
//     would depend on its internals.
//
// # Limits
//
// The order is per device, not per request: a pod with several Gantry
// share requests gets, for each, the first ranked card it fits, which can
// differ from the strategy's joint choice. The ranking is within one slice
// (the driver publishes one slice per node). Model restrictions written as
// CEL selectors are honoured by the allocator but not seen by the
// strategy's score. Pods with a Gantry request are scored by the strategy
// alone; others get upstream's prioritized-list score.
package dra
