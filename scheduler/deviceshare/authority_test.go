package deviceshare

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
)

// A tenant's forged intent claiming every card of the node blocks nothing:
// only a record that matches the pod's requests, on a pod a Gantry profile
// placed, counts (contract.Authority).
func TestForgedIntentsHoldNothing(t *testing.T) {
	nw := coretest.MakeNode("n").GPUs("T4", 2, 16384)
	inv := nw.Inventory()
	all, err := contract.EncodeAllocation(contract.Allocation{Node: "n", Containers: []contract.ContainerAllocation{{
		Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{
			{ID: inv.Devices[0].ID, Index: 0, Units: 100}, {ID: inv.Devices[1].ID, Index: 1, Units: 100}},
	}}})
	require.NoError(t, err)
	cpuOnly := coretest.MakePod("cpu-only").Requests(100, 64).Node("n").Annotation(contract.AnnotationAllocation, all).Obj()
	small := coretest.MakePod("small").GPUPercent(10).Node("n").Annotation(contract.AnnotationAllocation, all).Obj()
	elsewhere := coretest.MakePod("other-scheduler").GPUPercent(200).Node("n").Annotation(contract.AnnotationAllocation, all).Obj()
	elsewhere.Spec.SchedulerName = v1.DefaultSchedulerName

	c := &cluster{t: t, args: argsYAML("Binpack"), nodes: []*v1.Node{nw.Obj()}, pods: []*v1.Pod{cpuOnly, small, elsewhere}}
	got := c.schedule(coretest.MakePod("next").GPUPercent(100).Obj())
	require.Nil(t, got.status, "no forged intent holds a card")

	// The same intent on a pod that asks for both cards and was placed by
	// Gantry does hold them.
	honest := coretest.MakePod("honest").GPUPercent(200).Node("n").Annotation(contract.AnnotationAllocation, all).Obj()
	c = &cluster{t: t, args: argsYAML("Binpack"), nodes: []*v1.Node{nw.Obj()}, pods: []*v1.Pod{honest}}
	got = c.schedule(coretest.MakePod("next").GPUPercent(10).Obj())
	require.NotNil(t, got.status)
	assert.Contains(t, got.status.Message(), "no GPU has 10% free")
}
