// Package handofftest drives the whole node agent with kubelet's own device
// manager (k8s.io/kubernetes/pkg/kubelet/cm/devicemanager) and kubelet's own
// PodResources server, on go-nvml's DGX A100 mock, and checks the handoff
// from scheduler to kubelet: no device over-committed, every record equal to
// what kubelet gave, steering followed, and all of it across kubelet and
// plugin restarts.
//
// The device manager serves its registration socket at kubelet's standard
// path (/var/lib/kubelet/device-plugins/kubelet.sock), so the tests need
// root, run one at a time, and skip when a real kubelet owns that directory.
package handofftest
