// Package source is where the autoscaler reads the cluster from and acts on
// it: nodes, pods and PodDisruptionBudgets, cordoning and evicting. Client
// talks to an API server through client-go; Memory is an in-memory cluster
// for unit tests and the trace simulator's virtual time.
package source
