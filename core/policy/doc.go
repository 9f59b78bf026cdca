// Package policy decides where a request goes: which node scores best and
// which devices on it to take. Every strategy is data: a Type maps to a
// constructor in one table, each strategy lives in its own file, and all of
// them share one Strategy interface used by the scheduler plugin, the
// autoscaler and the simulator alike.
//
// Besides Gantry's binpack and spread, the package carries Fragmentation
// Gradient Descent (FGD, Weng et al., USENIX ATC '23) and the baselines of
// that paper (best-fit, dot-product, GPU-packing, GPU-clustering, random),
// restated from their published definitions, and one policy of Gantry's
// own, LookaheadFGD (lookahead.go): FGD over a fragment measure that looks
// ahead at how the workload's shares fill what a device has left.
package policy
