// Package deviceshare is the GantryDeviceShare kube-scheduler plugin: a thin
// adapter that turns framework calls into core calls. PreFilter parses the
// pod's request, Filter asks core/state.Fit, Score asks the configured
// core/policy strategy (blended with zone spread for replicas), Reserve picks
// the exact devices and remembers them until PreBind has written them on the
// pod as the gantry.dev/allocation annotation.
//
// Device state is rebuilt from the scheduler's own NodeInfo snapshot (the
// pods on the node and their allocation annotations, preferring the node
// agent's record) and memoised per NodeInfo generation. The plugin needs no
// informers of its own, so the simulator and the autoscaler run it on
// in-memory snapshots exactly as kube-scheduler runs it on a cluster.
package deviceshare
