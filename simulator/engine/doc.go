// Package engine runs the Gantry simulator's experiments on a trace read by
// simulator/trace: it turns trace nodes and pods into Kubernetes objects and
// device inventories, and drives the real scheduler (and, for replays, the
// real autoscaler loop) in virtual time.
//
// RunInflation is the FGD paper's workload-inflation experiment, RunReplay
// replays a trace's arrivals and departures, optionally with autoscaling, and
// RunSharingGain measures how many nodes GPU sharing saves.
package engine
