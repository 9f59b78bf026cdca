// Package simulator is the autoscaler's view of a cluster it can fork and
// place pods in. The Snapshot the autoscaler runs is ShareSnapshot: the
// real kube-scheduler framework with GantryDeviceShare (scheduler/simulate),
// so every scale-up, estimate and drain is decided card by card exactly as
// gantry-scheduler would place the pods. ScalarSnapshot replaces that fit
// with node-level summed capacity, as Cluster Autoscaler sees extended
// resources; it exists only as the baseline the benchmark compares with.
package simulator
