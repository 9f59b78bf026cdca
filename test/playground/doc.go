// Package playground runs a local Gantry cluster on one machine, without a
// cloud and without containers: etcd, kube-apiserver and KWOK from
// test/harness; kube-controller-manager's Deployment, ReplicaSet and garbage
// collector controllers in-process (so that deleting an example removes
// what it made); bin/gantry-scheduler with the profile manifests/scheduler
// ships; bin/gantry-autoscaler with the kwok provider and the two GPU node
// groups of examples/playground/autoscaler-config.yaml; and
// bin/gantry-webhook on a loopback port, the shipped webhook configurations
// pointed at it. `make playground` runs it (hack/playground) until it is
// stopped; everything it started or wrote is removed on the way out.
package playground
