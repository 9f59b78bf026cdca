// Package sweep splits an experiment of the simulator (inflation, replay
// with or without the autoscaler, sharing gain) over a grid of traces x
// policies x seeds into cells that run one per index of a Kubernetes
// Indexed Job, and merges the cells' results back into the report a
// single `gantry-sim run` writes. A Grid (gantry.dev/v1alpha1 Sweep) is
// decoded strictly, defaulted as gantry-sim run defaults its flags and
// validated with field paths; cells are numbered in the order a single run
// would produce them (trace, then policy, then seed), so index i of the
// Job is always the same run.
package sweep
