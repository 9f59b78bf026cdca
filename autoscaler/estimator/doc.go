// Package estimator answers "how many nodes of this template do these pods
// need": first-fit decreasing over a snapshot of template nodes added one
// at a time, each pod placed by the snapshot's scheduler (the real plugin),
// capped in nodes and in time, as Cluster Autoscaler's binpacking
// estimator.
package estimator
