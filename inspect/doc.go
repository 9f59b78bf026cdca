// Package inspect computes what an SRE asks of a Gantry cluster: per device,
// its model, health and the shares the pods on it hold, from Node and Pod
// objects alone (the same records the scheduler reads). kubectl-gantry
// prints it.
package inspect
