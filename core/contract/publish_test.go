package contract_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

func TestPublishKeepsOtherFieldsAndReadsBack(t *testing.T) {
	inv := device.Inventory{Devices: []device.Device{
		{ID: "g1", Index: 1, Kind: device.GPU, Model: "T4", MemoryMiB: 16384, Health: device.Unhealthy, NUMANode: device.NoNUMA},
		{ID: "g0", Index: 0, Kind: device.GPU, Model: "T4", MemoryMiB: 16384, Health: device.Healthy, NUMANode: 0},
	}}
	node := &corev1.Node{}
	node.Name = "n"
	node.Labels = map[string]string{"pool": "a"}
	node.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}
	require.NoError(t, contract.Publish(node, inv))

	got, err := contract.InventoryOf(node)
	require.NoError(t, err)
	assert.Equal(t, []string{"g0", "g1"}, []string{got.Devices[0].ID, got.Devices[1].ID})
	assert.Equal(t, "a", node.Labels["pool"])
	assert.Equal(t, "T4", node.Labels[contract.LabelGPUModel])
	assert.Equal(t, "2", node.Labels[contract.LabelGPUCount])
	q := node.Status.Allocatable[contract.ResourceGPUPercent]
	assert.Equal(t, int64(100), q.Value(), "only the healthy device is allocatable")
	assert.Equal(t, "8", node.Status.Capacity.Cpu().String())

	bad := device.Inventory{Devices: []device.Device{{ID: "", Kind: device.GPU, Model: "T4", Health: device.Healthy}}}
	assert.Error(t, contract.Publish(&corev1.Node{}, bad))
}
