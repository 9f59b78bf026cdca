package dra

import (
	"testing"

	"github.com/stretchr/testify/require"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/dynamic-resource-allocation/structured"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra/dratest"
)

func TestMemoryTracksSharesAndPending(t *testing.T) {
	m := NewMemory()
	m.AddClass(dratest.DeviceClass(device.GPU))
	m.AddSlice(dratest.MakeSlice("n1").GPUs("A100", 2, 1024).Obj())
	m.AddClaim(dratest.MakeClaim("ns", "shared").Gantry("n1", "r", "gpu-0", 30).Obj())
	m.AddClaim(dratest.MakeClaim("ns", "nic").Allocated("nic.example.com", "n1", "r", "nic-0", 0).Obj())
	pending := dratest.MakeClaim("ns", "pending").Share("r", "gpu.gantry.dev", 20).Obj()
	m.AddClaim(pending)

	st, err := m.ResourceClaims().GatherAllocatedState()
	require.NoError(t, err)
	require.True(t, st.AllocatedDevices.Has(structured.MakeDeviceID("nic.example.com", "n1", "nic-0")), "an exclusive result holds its device")
	require.False(t, st.AllocatedDevices.Has(structured.MakeDeviceID(contract.DRADriver, "n1", "gpu-0")), "a share does not hold its card")
	require.Equal(t, 1, st.AllocatedSharedDeviceIDs.Len())

	// Reserve signals; the claim reads as allocated until Commit makes it so.
	allocated := dratest.MakeClaim("ns", "pending").Share("r", "gpu.gantry.dev", 20).Gantry("n1", "r", "gpu-0", 20).Obj()
	require.NoError(t, m.ResourceClaims().SignalClaimPendingAllocation(pending.UID, allocated))
	got, err := m.ResourceClaims().Get("ns", "pending")
	require.NoError(t, err)
	require.NotNil(t, got.Status.Allocation)
	require.NotNil(t, m.ResourceClaims().GetPendingAllocation(pending.UID))
	st, err = m.ResourceClaims().GatherAllocatedState()
	require.NoError(t, err)
	require.Equal(t, 2, st.AllocatedSharedDeviceIDs.Len())

	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "pod-uid"}}
	m.Commit(pod)
	require.Nil(t, m.ResourceClaims().GetPendingAllocation(pending.UID))
	c, ok := m.Claim("ns", "pending")
	require.True(t, ok)
	require.NotNil(t, c.Status.Allocation)
	require.Equal(t, "p", c.Status.ReservedFor[0].Name)

	_, err = m.DeviceClasses().Get("nope")
	require.Error(t, err)
	m.DeleteClaim("ns", "pending")
	_, err = m.ResourceClaims().Get("ns", "pending")
	require.Error(t, err)
}

// A fork changes independently of its parent; Set replaces everything;
// RemoveNodeSlices takes only that node's slices.
func TestMemoryForkSetRemove(t *testing.T) {
	m := NewMemory()
	m.AddClass(dratest.DeviceClass(device.GPU))
	m.AddSlice(dratest.MakeSlice("n1").GPUs("A100", 2, 1024).Obj())
	m.AddSlice(dratest.MakeSlice("n2").GPUs("A100", 2, 1024).Obj())
	pending := dratest.MakeClaim("ns", "c").Share("r", "gpu.gantry.dev", 20).Obj()
	m.AddClaim(pending)
	require.NoError(t, m.ResourceClaims().SignalClaimPendingAllocation(pending.UID,
		dratest.MakeClaim("ns", "c").Share("r", "gpu.gantry.dev", 20).Gantry("n1", "r", "gpu-0", 20).Obj()))

	f := m.Fork()
	require.NotNil(t, f.ResourceClaims().GetPendingAllocation(pending.UID), "in-flight allocations are forked")
	f.Commit(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u"}})
	f.RemoveNodeSlices("n1")
	f.DeleteClaim("ns", "c")

	slices, classes, claims := m.Objects()
	require.Len(t, slices, 2, "the parent keeps its slices")
	require.Len(t, classes, 1)
	require.Len(t, claims, 1, "the parent keeps its claim")
	require.Nil(t, claims[0].Status.Allocation, "the fork's commit is not the parent's")
	require.NotNil(t, m.ResourceClaims().GetPendingAllocation(pending.UID))
	fs, _, fc := f.Objects()
	require.Len(t, fs, 1)
	require.Equal(t, "n2", *fs[0].Spec.NodeName)
	require.Empty(t, fc)

	m.Set(fs, nil, nil)
	slices, classes, claims = m.Objects()
	require.Len(t, slices, 1)
	require.Empty(t, classes)
	require.Empty(t, claims)
	require.Nil(t, m.ResourceClaims().GetPendingAllocation(pending.UID), "Set drops in-flight allocations")
}
