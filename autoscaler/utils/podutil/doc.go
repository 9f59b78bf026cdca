// Package podutil holds the pod facts every autoscaler step shares: the
// size used to order pods, equivalence keys, and the node a pod's shares
// put on a node as core state.
package podutil
