package cloudprovider

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
)

func TestBuildNodePublishesInventory(t *testing.T) {
	g := config.NodeGroup{Name: "a100", Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: "A100", Count: 8, MemoryMiB: 81920},
		CPU:    resource.MustParse("64"), Memory: resource.MustParse("512Gi"), Pods: 110, Zone: "z1",
		Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}},
	}}
	n, err := BuildNode(g, "n1")
	require.NoError(t, err)
	inv, err := contract.InventoryOf(n)
	require.NoError(t, err)
	assert.Equal(t, 8, inv.Count(device.GPU))
	assert.Equal(t, "A100", n.Labels[contract.LabelGPUModel])
	assert.Equal(t, "z1", n.Labels[corev1.LabelTopologyZone])
	assert.Equal(t, "a100", n.Labels[LabelNodeGroup])
	q := n.Status.Allocatable[contract.ResourceGPUPercent]
	assert.Equal(t, int64(800), q.Value())
	assert.Len(t, n.Spec.Taints, 1)

	g.Template.Device.Isolation = device.IsolationMPS
	n, err = BuildNode(g, "n2")
	require.NoError(t, err)
	inv, err = contract.InventoryOf(n)
	require.NoError(t, err)
	for _, d := range inv.Devices {
		assert.Equal(t, device.IsolationMPS, d.Isolation, "a template node publishes its group's isolation")
	}

	cpuOnly, err := BuildNode(config.NodeGroup{Name: "cpu", Template: config.NodeTemplate{CPU: resource.MustParse("4"), Memory: resource.MustParse("8Gi"), Pods: 10}}, "c1")
	require.NoError(t, err)
	assert.NotContains(t, cpuOnly.Annotations, contract.AnnotationInventory)
}

// A DRA-mode group's node publishes no Gantry annotation, label or
// resource; its slice, read back by core/dra as any node's, holds the
// declared cards under the node's name.
func TestTemplateSlicesInDRAMode(t *testing.T) {
	g := config.NodeGroup{Name: "a100", Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: "A100", Count: 4, MemoryMiB: 81920, Mode: config.DeviceModeDRA},
		CPU:    resource.MustParse("64"), Memory: resource.MustParse("512Gi"), Pods: 110,
	}}
	n, err := BuildNode(g, "n1")
	require.NoError(t, err)
	assert.NotContains(t, n.Annotations, contract.AnnotationInventory)
	assert.NotContains(t, n.Labels, contract.LabelGPUModel)
	assert.NotContains(t, n.Status.Allocatable, contract.ResourceGPUPercent)
	assert.Equal(t, "a100", n.Labels[LabelNodeGroup])

	slices := TemplateSlices(g, "n1")
	require.Len(t, slices, 1)
	assert.Equal(t, contract.DRADriver, slices[0].Spec.Driver)
	c := coredra.Build(slices, nil)
	require.Empty(t, c.Problems)
	require.Contains(t, c.Nodes, "n1")
	st := c.Nodes["n1"].State
	assert.Equal(t, 400, st.Capacity(device.GPU))
	for _, d := range st.Devices {
		assert.Equal(t, "A100", d.Model)
		assert.Equal(t, int64(81920), d.MemoryMiB)
	}

	g.Template.Device.Mode = config.DeviceModeDevicePlugin
	assert.Empty(t, TemplateSlices(g, "n1"), "device-plugin mode publishes no slice")
}
