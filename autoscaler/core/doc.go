// Package core is the autoscaler's loop, in Cluster Autoscaler's shape:
// RunOnce(ctx, now) lists the cluster, accounts for upcoming nodes of live
// scale-up requests, finds the pods gantry-scheduler marked unschedulable,
// drops those that fit existing or upcoming capacity, estimates every node
// group with the real plugin, picks with the expander chain, balances
// similar groups and scales up; then it finds unneeded nodes and removes
// those whose pods the real plugin can place elsewhere card by card. Time,
// the cloud provider and the cluster are injected, so the same loop runs
// against an API server or on a simulator's virtual time.
package core
