package cloudprovider

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
)

// Inventory returns the devices a node named nodeName of the template has.
func Inventory(t config.NodeTemplate, nodeName string) device.Inventory {
	var inv device.Inventory
	d := t.Device
	for i := 0; i < d.Count; i++ {
		numa := 0
		if d.Count > 1 {
			numa = i / ((d.Count + 1) / 2)
		}
		inv.Devices = append(inv.Devices, device.Device{
			ID: fmt.Sprintf("%s-%s-%d", nodeName, d.Kind, i), Index: i, Kind: d.Kind, Vendor: "template",
			Model: d.Model, MemoryMiB: d.MemoryMiB, Health: device.Healthy, NUMANode: numa, LinkGroup: nodeName,
			Isolation: d.Isolation,
		})
	}
	return inv
}

// BuildNode returns a Ready node named name of group g, as the device
// plugin would publish it once running: labels (group, zone, template
// labels, Gantry device labels), taints, allocatable host and share
// resources, and the inventory annotation. A group in DRA mode publishes
// its cards in a ResourceSlice instead (TemplateSlices), so its node has
// no Gantry label, resource or annotation.
func BuildNode(g config.NodeGroup, name string) (*corev1.Node, error) {
	t := g.Template
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{corev1.LabelHostname: name, LabelNodeGroup: g.Name},
		Annotations: map[string]string{},
	}}
	for k, v := range t.Labels {
		n.Labels[k] = v
	}
	if t.Zone != "" {
		n.Labels[corev1.LabelTopologyZone] = t.Zone
	}
	n.Spec.Taints = append([]corev1.Taint(nil), t.Taints...)
	n.Status.Allocatable = corev1.ResourceList{
		corev1.ResourceCPU:    t.CPU.DeepCopy(),
		corev1.ResourceMemory: t.Memory.DeepCopy(),
		corev1.ResourcePods:   *resource.NewQuantity(t.Pods, resource.DecimalSI),
	}
	n.Status.Capacity = n.Status.Allocatable.DeepCopy()
	if inv := Inventory(t, name); len(inv.Devices) > 0 && !t.Device.DRA() {
		if err := contract.Publish(n, inv); err != nil {
			return nil, fmt.Errorf("node group %q: template: %w", g.Name, err)
		}
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}
	return n, nil
}

// TemplateSlices returns the ResourceSlices the agent of a node named
// node of group g publishes in DRA mode: its declared cards, as the
// driver writes them (core/dra.TemplateSlice); none in device-plugin mode.
func TemplateSlices(g config.NodeGroup, node string) []*resourceapi.ResourceSlice {
	if !g.Template.Device.DRA() {
		return nil
	}
	return []*resourceapi.ResourceSlice{coredra.TemplateSlice(node, Inventory(g.Template, node))}
}

// TemplateName is the name BuildNode is given for a group's template.
func TemplateName(group string) string { return "template-" + group }
