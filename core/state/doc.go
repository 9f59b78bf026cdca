// Package state holds what a node has left: its devices, what each pod holds
// on them, and its host CPU and memory. Fit says whether a request can go on
// a node and, when not, why and whether waiting could ever help; Assign and
// Release keep the books. A NodeState is cheap to Clone, so the autoscaler and
// the simulator fork it freely.
package state
