// Package expander chooses among scale-up options, as Cluster Autoscaler's
// expanders: each policy is a Filter that keeps the best options, a chain
// applies them in the configured order, and random breaks what ties are
// left. Gantry's policies measure device shares: least-waste counts free
// share units next to CPU and memory, and fragmentation counts the share
// units the pending shapes could not use after the placement.
package expander
