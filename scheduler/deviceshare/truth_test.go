package deviceshare

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
)

func encode(t *testing.T, node, id string, index, units int) string {
	t.Helper()
	v, err := contract.EncodeAllocation(contract.Allocation{Node: node, Containers: []contract.ContainerAllocation{{
		Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: id, Index: index, Units: units}},
	}}})
	require.NoError(t, err)
	return v
}

// The node agent's record of what kubelet really gave a pod wins over the
// scheduler's intent: the next share goes where the card is really free.
func TestNodeRecordWinsOverIntent(t *testing.T) {
	nw := coretest.MakeNode("n").GPUs("T4", 2, 16384)
	inv := nw.Inventory()
	held := coretest.MakePod("held").GPUPercent(80).Node("n").
		Annotation(contract.AnnotationAllocation, encode(t, "n", inv.Devices[0].ID, 0, 80)).
		Annotation(contract.AnnotationAllocated, encode(t, "n", inv.Devices[1].ID, 1, 80)).Obj()
	c := &cluster{t: t, args: argsYAML("Binpack"), nodes: []*v1.Node{nw.Obj()}, pods: []*v1.Pod{held}}
	got := c.schedule(coretest.MakePod("next").GPUPercent(50).Obj())
	require.Nil(t, got.status)
	assert.Equal(t, inv.Devices[0].ID, got.alloc.Containers[0].Devices[0].ID, "device 1 is the one really in use")
}

// A record that names another node is never counted here, and a malformed
// record is skipped without failing the node.
func TestMalformedAgentRecordFallsBackToIntent(t *testing.T) {
	nw := coretest.MakeNode("n").GPUs("T4", 1, 16384)
	inv := nw.Inventory()
	held := coretest.MakePod("held").GPUPercent(60).Node("n").
		Annotation(contract.AnnotationAllocation, encode(t, "n", inv.Devices[0].ID, 0, 60)).
		Annotation(contract.AnnotationAllocated, "{garbage").Obj()
	c := &cluster{t: t, args: argsYAML("Binpack"), nodes: []*v1.Node{nw.Obj()}, pods: []*v1.Pod{held}}
	got := c.schedule(coretest.MakePod("next").GPUPercent(50).Obj())
	require.NotNil(t, got.status, "the intent still holds 60%% of the only card")
	assert.Contains(t, got.status.Message(), "most free: 40%")
}

func TestForeignAndMalformedRecordsAreIgnored(t *testing.T) {
	nw := coretest.MakeNode("n").GPUs("T4", 1, 16384)
	inv := nw.Inventory()
	foreign := coretest.MakePod("foreign").GPUPercent(90).Node("n").
		Annotation(contract.AnnotationAllocation, encode(t, "other", inv.Devices[0].ID, 0, 90)).Obj()
	broken := coretest.MakePod("broken").GPUPercent(90).Node("n").
		Annotation(contract.AnnotationAllocated, "{not json").Obj()
	c := &cluster{t: t, args: argsYAML("Binpack"), nodes: []*v1.Node{nw.Obj()}, pods: []*v1.Pod{foreign, broken}}
	got := c.schedule(coretest.MakePod("next").GPUPercent(100).Obj())
	assert.Nil(t, got.status)
}

// A reservation lives until a cycle sees the pod carry its allocation, and
// no longer: the plugin keeps no memory per scheduled pod.
func TestReservationsArePrunedOnceOnThePod(t *testing.T) {
	pl := &DeviceShare{nodes: newNodeCache()}
	nw := coretest.MakeNode("n").GPUs("T4", 2, 16384)
	inv := nw.Inventory()
	alloc := contract.Allocation{Node: "n", Containers: []contract.ContainerAllocation{{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: inv.Devices[0].ID, Index: 0, Units: 40}}}}}
	pod := coretest.MakePod("p").GPUPercent(40).Node("n").Obj()
	pl.nodes.assume(pod.UID, alloc)
	// Without the annotation the reservation counts and stays.
	ni := framework.NewNodeInfo(pod)
	ni.SetNode(nw.Obj())
	st, _, err := pl.nodes.stateFor(ni)
	require.NoError(t, err)
	assert.Equal(t, 40, st.Devices[0].Used)
	assert.Equal(t, 1, pl.nodes.reservations())
	// With it, the reservation is dropped and the pod still counts once.
	withAnn := pod.DeepCopy()
	withAnn.Annotations = map[string]string{contract.AnnotationAllocation: encode(t, "n", inv.Devices[0].ID, 0, 40)}
	ni2 := framework.NewNodeInfo(withAnn)
	ni2.SetNode(nw.Obj())
	st, _, err = pl.nodes.stateFor(ni2)
	require.NoError(t, err)
	assert.Equal(t, 40, st.Devices[0].Used)
	assert.Equal(t, 0, pl.nodes.reservations())
}

func TestReservationsOfVanishedPodsAreSwept(t *testing.T) {
	nc := newNodeCache()
	for i := 0; i < 3*maxReservations; i++ {
		nc.assume(types.UID(fmt.Sprint(i)), contract.Allocation{Node: "n"})
	}
	assert.LessOrEqual(t, nc.reservations(), maxReservations+1)
}

// A stale intent left on the pod by an earlier attempt whose Bind failed
// does not stand in for this cycle's reservation.
func TestStaleIntentDoesNotReplaceReservation(t *testing.T) {
	pl := &DeviceShare{nodes: newNodeCache()}
	nw := coretest.MakeNode("n").GPUs("T4", 2, 16384)
	inv := nw.Inventory()
	fresh := contract.Allocation{Node: "n", Containers: []contract.ContainerAllocation{{Container: "main", Kind: device.GPU, Devices: []contract.DeviceShare{{ID: inv.Devices[1].ID, Index: 1, Units: 40}}}}}
	pod := coretest.MakePod("p").GPUPercent(40).Node("n").
		Annotation(contract.AnnotationAllocation, encode(t, "n", inv.Devices[0].ID, 0, 40)).Obj()
	pl.nodes.assume(pod.UID, fresh)
	ni := framework.NewNodeInfo(pod)
	ni.SetNode(nw.Obj())
	st, _, err := pl.nodes.stateFor(ni)
	require.NoError(t, err)
	assert.Equal(t, 0, st.Devices[0].Used, "the stale intent must not count")
	assert.Equal(t, 40, st.Devices[1].Used)
	assert.Equal(t, 1, pl.nodes.reservations(), "the reservation stays until the pod carries it")
}

// Nodes that are gone do not keep memo entries.
func TestMemoOfGoneNodesIsDropped(t *testing.T) {
	pl := &DeviceShare{nodes: newNodeCache()}
	var live []fwk.NodeInfo
	for i := 0; i < 40; i++ {
		ni := framework.NewNodeInfo()
		ni.SetNode(coretest.MakeNode(fmt.Sprintf("n%d", i)).GPUs("T4", 1, 16384).Obj())
		_, _, err := pl.nodes.stateFor(ni)
		require.NoError(t, err)
		if i < 5 {
			live = append(live, ni)
		}
	}
	require.Equal(t, 40, pl.nodes.memoizedNodes())
	pl.nodes.forgetNodesExcept(live)
	assert.Equal(t, 5, pl.nodes.memoizedNodes())
}

// A pod that asks for no device still schedules when some node's inventory
// is broken.
func TestPodWithoutDevicesIgnoresBrokenInventories(t *testing.T) {
	c := &cluster{t: t, args: argsYAML("FGD"), nodes: []*v1.Node{
		coretest.MakeNode("broken").RawInventory("{").Obj(),
		coretest.MakeNode("ok").GPUs("T4", 1, 16384).Obj(),
	}}
	got := c.schedule(coretest.MakePod("cpu").Requests(1000, 1024).Obj())
	assert.Nil(t, got.status)
}
