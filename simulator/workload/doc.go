// Package workload holds the pieces of the FGD paper's experiment protocol (Weng et al., USENIX ATC '23;
// see shared/research/fgd-anchor.md) that turn a trace into a run's input, reproduced exactly so that
// Gantry's results are comparable with the reference simulator's:
//
//   - Shapes: the target workload, a probability distribution over task shapes built from the original
//     pod list (the most frequent shapes covering 95 % of pods, renormalised).
//   - Protocol: one seeded math/rand source that orders and inflates the pods ("tuning" in the
//     reference: shuffle, then re-sample until GPU demand reaches 130 % of capacity) and then gives the
//     nodes their random 4-digit name prefixes (the reference's tie-break), in that order.
//
// The package is pure and deterministic: the same inputs and seed always give the same output.
package workload
