// Package harness starts a real, throw-away Kubernetes control plane for
// integration tests: etcd and kube-apiserver built from this module's go.mod
// (bin/etcd from test/cmd/etcd, bin/kube-apiserver from
// k8s.io/kubernetes/cmd/kube-apiserver), plus KWOK (bin/kwok, built from the
// hack/tools module) to play kubelet for fake nodes and their pods.
//
// Build the binaries once with
//
//	hack/build-test-tools.sh
//
// A test then calls [Start], which picks free loopback ports, writes a fresh
// PKI and a kubeconfig, waits for /readyz and returns a [ControlPlane] with a
// client for the admin user (group system:masters). [StartKWOK] runs KWOK
// against it with the Stage configs in manifests/kwok/stages, and
// [StartProcess] runs any other binary (for example bin/gantry-scheduler)
// under the same supervision. [CreateReadyNode] creates a node that is Ready
// without KWOK.
//
// No controller-manager runs: the harness creates the default ServiceAccount
// in the default namespace itself, disables the admission plugins that would
// wait for controllers (ServiceAccount, TaintNodesByCondition), and nothing
// garbage-collects, schedules or replicates. Tests that need a scheduler start
// one with [StartProcess].
//
// Every process runs in its own process group; t.Cleanup stops it (SIGTERM,
// then SIGKILL) and removes its data. Process output goes to one log file per
// process in a per-test log directory that is removed when the test passes and
// kept, with the tail of every log printed, when it fails. Set GANTRY_LOG_DIR
// to keep all logs under a directory of your choice, and GANTRY_BIN_DIR to run
// binaries from somewhere other than <repo>/bin.
//
// Every wait in this package is bounded; nothing waits forever.
package harness
