// Package share turns a pod into the device shares it asks for. Parse checks
// every Gantry resource and annotation on the pod and reports each malformed
// one with its field path, so that the scheduler can tell the workload owner
// exactly what to fix.
package share
