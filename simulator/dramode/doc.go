// Package dramode runs the simulator's pods through Gantry's DRA mode: every
// node publishes its cards as one ResourceSlice of the driver gpu.gantry.dev
// (core/dra.TemplateSlice, exactly as the node agent's DRA driver does),
// every container that asks Gantry devices asks them through a
// ResourceClaim made as the webhook's rewrite makes it
// (core/dra.ClaimTemplate: count, capacity.requests.percent, models as a
// CEL selector), and the real kube-scheduler framework places the pod
// through a DRA plugin: PreFilter, Filter (upstream's structured
// allocator), Score and Reserve; the allocation Reserve signals is taken as
// made when the pod binds, where a cluster's PreBind writes it
// (scheduler/simulate in DRA mode, on a scheduler/dra.Memory).
//
// Which plugin places the claims is the Choice (simulate.DRAChoice):
// GantryDRA (the configured policy scores the nodes and orders each node's
// cards, so upstream's first-fit allocator takes the policy's card),
// GantryDRA without its card order (the policy's node score, upstream's
// first-fit card), or the stock DynamicResources plugin (no Gantry score at
// all). Every policy runs from
// core/policy through the same plugin; nothing here decides a placement.
//
// The engine (simulator/engine) books a DRA placement from the claims'
// allocations (Result.Allocation) exactly as it books a device-plugin one
// from the pod's allocation annotation, so every experiment and metric
// reads the same in both modes.
package dramode
