// Package simulate runs the real kube-scheduler framework (the in-tree
// plugins of a profile plus GantryDeviceShare) over an in-memory cluster, the
// way Cluster Autoscaler's simulator runs the scheduler: no API server, no
// informers, one pod at a time. The autoscaler uses it to test pending pods
// against template nodes and drains; the trace simulator uses it to replay a
// trace. Both therefore place exactly as gantry-scheduler would.
package simulate
