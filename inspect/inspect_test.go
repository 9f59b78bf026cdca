package inspect

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
)

func TestDevices(t *testing.T) {
	nw := coretest.MakeNode("n1").Zone("z1").GPUs("T4", 2, 16384).Isolation(0, device.IsolationMPS)
	inv := nw.Inventory()
	alloc, err := contract.EncodeAllocation(contract.Allocation{Node: "n1", Containers: []contract.ContainerAllocation{{
		Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: inv.Devices[1].ID, Index: 1, Units: 30}},
	}}})
	require.NoError(t, err)
	nodes := []corev1.Node{*nw.Obj(), *coretest.MakeNode("broken").RawInventory("nope").Obj(), *coretest.MakeNode("cpu").Obj()}
	pods := []corev1.Pod{
		*coretest.MakePod("a").GPUPercent(30).Node("n1").Annotation(contract.AnnotationAllocation, alloc).Obj(),
		*coretest.MakePod("garbled").GPUPercent(30).Node("n1").Annotation(contract.AnnotationAllocation, "{").Obj(),
	}
	rows, problems := Devices(nodes, pods)
	require.Len(t, rows, 2)
	assert.Equal(t, 0, rows[0].UsedPercent)
	assert.Equal(t, 30, rows[1].UsedPercent)
	assert.Equal(t, []string{"default/a"}, rows[1].Pods)
	require.Len(t, problems, 2)
	assert.Equal(t, "node/broken", problems[0].Object)
	assert.Equal(t, "pod/default/garbled", problems[1].Object)

	var out bytes.Buffer
	require.NoError(t, Print(&out, rows, problems))
	assert.Contains(t, out.String(), "n1    z1    0       gpu   T4     Healthy  mps        0%    -")
	assert.Contains(t, out.String(), "n1    z1    1       gpu   T4     Healthy  none       30%   default/a")
	assert.Contains(t, out.String(), "warning: node/broken: node \"broken\": invalid gantry.dev/inventory annotation: not valid JSON")
}
