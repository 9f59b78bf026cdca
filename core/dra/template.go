package dra

import (
	"sort"

	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// TemplateSlice returns the ResourceSlice a node with inv publishes in DRA
// mode: one slice, pool named after the node, one device per card as the
// driver writes it. The autoscaler gives it to a node group's template node
// (scale-from-zero for claims) and the simulator to simulated nodes, so they
// read exactly like a real node's.
func TemplateSlice(node string, inv device.Inventory) *resourceapi.ResourceSlice {
	devs := append([]device.Device(nil), inv.Devices...)
	sort.Slice(devs, func(i, j int) bool { return devs[i].Index < devs[j].Index })
	s := &resourceapi.ResourceSlice{
		ObjectMeta: metav1.ObjectMeta{Name: node + "-" + contract.DRADriver},
		Spec: resourceapi.ResourceSliceSpec{
			Driver:   contract.DRADriver,
			NodeName: ptr.To(node),
			Pool:     resourceapi.ResourcePool{Name: node, Generation: 1, ResourceSliceCount: 1},
		},
	}
	for _, d := range devs {
		s.Spec.Devices = append(s.Spec.Devices, contract.DRADevice(d))
	}
	return s
}

// Utilization returns the share of n's healthy cards of kind k that claims
// hold, 0..1, counting consumed capacity: a card holding one 10 percent
// share is 10 percent used (upstream's device count would call it full).
func Utilization(n *Node, k device.Kind) float64 {
	capacity := n.State.Capacity(k)
	if capacity == 0 {
		return 0
	}
	used := 0
	for _, d := range n.State.Devices {
		if d.Kind == k && d.Healthy() {
			used += d.Used
		}
	}
	return float64(used) / float64(capacity)
}
