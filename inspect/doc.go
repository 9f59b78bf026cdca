// Package inspect computes what an SRE asks of a Gantry cluster, from Node
// and Pod objects alone (the records the scheduler reads, counted by the
// same authority rules): per device, its model, health and the shares the
// pods on it hold (Devices); for a pending pod, each node's reason from
// core/state.Fit, the check gantry-scheduler's Filter runs, grouped and
// most common first (Why); per model, capacity, used, free and stranded
// shares (Summary). kubectl-gantry prints them.
package inspect
