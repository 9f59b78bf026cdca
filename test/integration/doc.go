// Package integration holds Gantry's end-to-end tests: a real etcd and
// kube-apiserver (built from Go modules by hack/build-test-tools.sh), the
// real bin/gantry-scheduler, bin/gantry-webhook, bin/gantry-autoscaler and
// bin/gantry-device-plugin (make build), and KWOK where nodes need a
// lifecycle.
package integration
