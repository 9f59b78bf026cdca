// Package bound computes a sound upper bound on the milli-GPU allocation that
// any placement policy could reach on a workload-inflation run (fgd-anchor §5),
// so that a report can show how much headroom a policy leaves.
//
// # The relaxation
//
// Nodes are grouped into types t (same CPU, memory, GPU count and model; N_t
// nodes each) and the submitted pods that ask for a GPU into classes s (same
// CPU, memory, GPU count k_s, per-GPU share g_s in milli and allowed models;
// n_s pods each). Pods that ask for no GPU allocate no GPU and only take
// capacity, so leaving them out can only raise the optimum. The linear
// program has one variable x_{t,s} >= 0 (how many pods of class s sit on
// nodes of type t) for every pair where one pod of s fits an empty node of t
// (CPU, memory, k_s <= GPUs, model allowed) and maximises
//
//	sum_{t,s} k_s g_s x_{t,s}
//
// subject to
//
//	sum_t x_{t,s} <= n_s                                  (each pod placed at most once)
//	sum_s a_{r,s} x_{t,s} <= N_t C_{t,r}                  (r = CPU, memory, GPU milli)
//	sum_s h(a_{r,s}/C_{t,r}) x_{t,s} <= N_t               (node-level cuts, h in H)
//	sum_s k_s h(g_s/1000) x_{t,s} <= N_t G_t              (card-level cuts, h in H)
//
// where H is a family of dual-feasible functions: h maps [0,1] to [0,1] and
// sum_i h(u_i) <= 1 whenever sum_i u_i <= 1. H holds
//
//   - f_e(u) = 1 for u > 1-e, u for e <= u <= 1-e, 0 for u < e (0 < e <= 1/2).
//     Proof: if some u_j > 1-e, the others sum to less than e, so each is
//     below e and counts 0: the sum is 1. Otherwise h(u) <= u everywhere.
//   - u_k(u) = u when (k+1)u is an integer, else floor((k+1)u)/k (Fekete and
//     Schepers, Math. Programming 91, 2001, Theorem 2).
//
// Soundness. Take any placement reachable by any policy: every placed pod
// sits on one node that holds it. Counting, for each type t and class s, the
// placed pods of s on nodes of t gives an integer x that satisfies every row:
// a node never holds more CPU, memory or GPU milli than it has; on one node
// the fractions a_{r,p}/C_{t,r} of its pods sum to at most 1, so their h
// values sum to at most 1, and summed over the N_t nodes to at most N_t; on
// one card the shares g_p/1000 of the pods on it sum to at most 1 (a whole
// GPU pod has its k cards alone, h(1) = 1 each), so summed over the N_t G_t
// cards the card cuts hold. The objective at that x is the placement's
// milli-GPU allocation, so the LP optimum bounds it. The pods of a run are
// never removed, so the allocation after any submitted pod is at most the
// optimum over the pods submitted so far, and the mean over a curve bin is at
// most the optimum over the pods submitted by the bin's last sample.
//
// Certification. The LP is solved with a dense simplex in floating point,
// but the reported number does not trust it: for any y >= 0 over the rows,
// weak duality gives, for every feasible x with x_{t,s} <= n_s,
//
//	c^T x = y^T A x + (c - A^T y)^T x <= b^T y + sum_j n_{s(j)} max(0, c_j - (A^T y)_j)
//
// and Bound evaluates the right-hand side at the solver's dual, in the
// original integer coefficients, with a relative margin for rounding. A
// poor dual gives a looser bound, never a wrong one.
//
// The bound ignores what makes an online policy's life hard (pods arrive in
// a fixed order, a pod that fits somewhere must be placed and nothing ever
// leaves), so it is an upper limit, not a target any policy must reach.
package bound
