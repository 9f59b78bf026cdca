package core

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra/dratest"
)

func draGroup(name, model string, count, max int, price float64) config.NodeGroup {
	g := group(name, model, count, max, price)
	g.Template.Device.Mode = config.DeviceModeDRA
	return g
}

// claimPod returns a pod of its own ReplicaSet whose claim "gpu" is the
// claim named after the pod, as the resourceclaim controller creates it
// from a template and records it in the pod's status.
func claimPod(name string) *corev1.Pod {
	p := coretest.MakePod(name).Requests(500, 512).Owner("ReplicaSet", "rs-"+name, true).Obj()
	p.UID = types.UID("uid-" + name)
	p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimTemplateName: ptr.To("gpu-share")}}
	p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
	p.Status.ResourceClaimStatuses = []corev1.PodResourceClaimStatus{{Name: "gpu", ResourceClaimName: ptr.To(name + "-gpu")}}
	return p
}

// ownedClaim returns claim as generated for the pod named name: owned by
// it, as the allocator checks.
func ownedClaim(c *resourceapi.ResourceClaim, pod string) *resourceapi.ResourceClaim {
	c.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod, UID: types.UID("uid-" + pod), Controller: ptr.To(true)}}
	return c
}

func pendingClaim(name string) *corev1.Pod {
	p := claimPod(name)
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	return p
}

// From zero nodes, pods whose claims ask shares of the gantry DeviceClass
// scale up the DRA-mode group, by the packing minimum of its template's
// cards (which only its slice publishes); a device-plugin pod still
// scales the device-plugin group.
func TestDRAScaleFromZero(t *testing.T) {
	e := newEnv(t, testConfig(group("t4", "T4", 4, 50, 1), draGroup("a100", "A100", 4, 50, 4)), nil)
	e.src.AddDeviceClass(dratest.DeviceClass(device.GPU))
	// 10 x 60 % + 5 x 25 % + 2 x 100 %: 12 cards, three four-card nodes.
	i := 0
	for _, s := range []struct {
		n   int
		pct int64
	}{{10, 60}, {5, 25}, {2, 100}} {
		for range s.n {
			name := fmt.Sprintf("c%02d", i)
			i++
			e.src.AddClaim(ownedClaim(dratest.MakeClaim("default", name+"-gpu").Share("gpu", "gpu.gantry.dev", s.pct).Obj(), name))
			e.src.AddPod(pendingClaim(name))
		}
	}
	e.src.AddPod(pending("plugin", 50, "T4"))
	e.run(t0)
	got := map[string]int{}
	for _, c := range e.calls("IncreaseSize") {
		got[c.Group] += c.Delta
	}
	assert.Equal(t, map[string]int{"a100": 3, "t4": 1}, got)

	// A claim asking more than any card fits no group: no node for it.
	e2 := newEnv(t, testConfig(draGroup("a100", "A100", 4, 50, 4)), nil)
	e2.src.AddDeviceClass(dratest.DeviceClass(device.GPU))
	e2.src.AddClaim(ownedClaim(dratest.MakeClaim("default", "big-gpu").Request("gpu", "gpu.gantry.dev", 5, 0).Obj(), "big"))
	e2.src.AddPod(pendingClaim("big"))
	e2.run(t0)
	assert.Empty(t, e2.calls("IncreaseSize"))
	evs := e2.events()
	require.Len(t, evs, 1)
	assert.Contains(t, evs[0], EventNotTriggerScaleUp)
}

// addDRANode registers a ready node of a DRA group with its slice.
func (e *env) addDRANode(groupName string) string {
	g := e.prov.Group(groupName)
	e.seq++
	name := fmt.Sprintf("%s-n%d", groupName, e.seq)
	node, err := cloudprovider.BuildNode(g.Config(), name)
	require.NoError(e.t, err)
	e.src.AddNode(node)
	for _, s := range cloudprovider.TemplateSlices(g.Config(), name) {
		e.src.AddSlice(s)
	}
	if t, _ := g.TargetSize(); t < e.count(groupName) {
		g.SetTargetSize(e.count(groupName))
	}
	return name
}

// boundClaim binds a claim pod to node with its claim holding pct of card.
func (e *env) boundClaim(name, node string, card int, pct int64) {
	p := claimPod(name)
	p.Spec.NodeName = node
	p.Status.Phase = corev1.PodRunning
	e.src.AddPod(p)
	c := dratest.MakeClaim("default", name+"-gpu").Share("gpu", "gpu.gantry.dev", pct).Gantry(node, "gpu", fmt.Sprintf("gpu-%d", card), pct).Obj()
	c.Status.ReservedFor = []resourceapi.ResourceClaimConsumerReference{{Resource: "pods", Name: name, UID: p.UID}}
	e.src.AddClaim(ownedClaim(c, name))
}

// Scale-down counts consumed capacity: a node whose four cards hold one
// 10 percent share is 2.5 percent used (device counting would call one
// card in four full, 25 percent); its pod's claim is re-placed on another
// node's card in the drain simulation, so the node goes. A node whose
// claims could go nowhere stays.
func TestDRAScaleDownCountsConsumedCapacity(t *testing.T) {
	cfg := testConfig(draGroup("a100", "A100", 4, 50, 4))
	cfg.ScaleDown.UtilizationThreshold = 0.2
	e := newEnv(t, cfg, nil)
	e.src.AddDeviceClass(dratest.DeviceClass(device.GPU))
	busy, light := e.addDRANode("a100"), e.addDRANode("a100")
	for card := range 3 {
		e.boundClaim(fmt.Sprintf("busy-%d", card), busy, card, 80)
	}
	e.boundClaim("light-0", light, 0, 10)

	e.run(t0)
	require.Contains(t, e.a.unneeded, light, "10 of 400 percent used")
	require.NotContains(t, e.a.unneeded, busy, "240 of 400 percent used")
	u, ok := (&world{dra: mustDRA(t, e)}).dra.utilization(light)
	require.True(t, ok)
	assert.InDelta(t, 0.025, u, 1e-9)

	e.run(t0.Add(cfg.ScaleDown.UnneededTime))
	del := e.calls("DeleteNodes")
	require.Len(t, del, 1)
	assert.Equal(t, []string{light}, del[0].Nodes)
	assert.Equal(t, []string{"default/light-0"}, e.src.Evicted())
}

// A light node whose claim fits no other card is kept.
func TestDRAScaleDownKeepsNodeWhoseClaimsFitNowhere(t *testing.T) {
	cfg := testConfig(draGroup("a100", "A100", 1, 50, 4))
	cfg.ScaleDown.UtilizationThreshold = 0.5
	e := newEnv(t, cfg, nil)
	e.src.AddDeviceClass(dratest.DeviceClass(device.GPU))
	full, light := e.addDRANode("a100"), e.addDRANode("a100")
	e.boundClaim("full-0", full, 0, 90)
	e.boundClaim("light-0", light, 0, 40)
	e.run(t0)
	require.Contains(t, e.a.unneeded, light)
	e.run(t0.Add(cfg.ScaleDown.UnneededTime))
	assert.Empty(t, e.calls("DeleteNodes"), "40 percent fits on no other card")
	assert.Empty(t, e.src.Evicted())
}

func mustDRA(t *testing.T, e *env) *draWorld {
	t.Helper()
	d, err := e.a.observeDRA(e.ctx)
	require.NoError(t, err)
	return d
}

// A DRA node is capacity only once its agent published its slice: until
// then the scale-up's nodes stay upcoming, and no second scale-up starts.
func TestDRANodeReadyOnceSlicePublished(t *testing.T) {
	e := newEnv(t, testConfig(draGroup("a100", "A100", 4, 50, 4)), nil)
	e.src.AddDeviceClass(dratest.DeviceClass(device.GPU))
	for i := range 8 {
		name := fmt.Sprintf("c%d", i)
		e.src.AddClaim(ownedClaim(dratest.MakeClaim("default", name+"-gpu").Share("gpu", "gpu.gantry.dev", 100).Obj(), name))
		e.src.AddPod(pendingClaim(name))
	}
	e.run(t0)
	require.Len(t, e.calls("IncreaseSize"), 1)
	assert.Equal(t, 2, e.calls("IncreaseSize")[0].Delta)

	g := e.prov.Group("a100")
	var names []string
	for i := range 2 {
		name := fmt.Sprintf("a100-x%d", i)
		node, err := cloudprovider.BuildNode(g.Config(), name)
		require.NoError(t, err)
		e.src.AddNode(node)
		names = append(names, name)
	}
	e.run(t0.Add(10 * time.Second))
	assert.Len(t, e.calls("IncreaseSize"), 1, "registered nodes without slices are upcoming, not missing")
	assert.Equal(t, 0, e.st.Last.NodeGroups[0].Ready)
	assert.Equal(t, 2, e.st.Last.NodeGroups[0].Upcoming)

	for _, n := range names {
		for _, s := range cloudprovider.TemplateSlices(g.Config(), n) {
			e.src.AddSlice(s)
		}
	}
	e.run(t0.Add(20 * time.Second))
	assert.Equal(t, 2, e.st.Last.NodeGroups[0].Ready, "ready once the slices are published")
	assert.Len(t, e.calls("IncreaseSize"), 1)
}

// A claim shared with a pod on another node cannot be moved with the
// light node's pod: the node stays.
func TestDRAScaleDownKeepsNodeWithSharedClaim(t *testing.T) {
	cfg := testConfig(draGroup("a100", "A100", 4, 50, 4))
	cfg.ScaleDown.UtilizationThreshold = 0.2
	e := newEnv(t, cfg, nil)
	e.src.AddDeviceClass(dratest.DeviceClass(device.GPU))
	busy, light := e.addDRANode("a100"), e.addDRANode("a100")
	for card := range 3 {
		e.boundClaim(fmt.Sprintf("busy-%d", card), busy, card, 80)
	}
	e.boundClaim("light-0", light, 0, 10)
	// light-0's claim also serves a pod that stays on busy.
	c, ok := mustDRA(t, e).claims["default/light-0-gpu"]
	require.True(t, ok)
	c = c.DeepCopy()
	c.Status.ReservedFor = append(c.Status.ReservedFor, resourceapi.ResourceClaimConsumerReference{Resource: "pods", Name: "busy-0", UID: types.UID("uid-busy-0")})
	e.src.AddClaim(c)
	e.run(t0)
	require.Contains(t, e.a.unneeded, light)
	e.run(t0.Add(cfg.ScaleDown.UnneededTime))
	assert.Empty(t, e.calls("DeleteNodes"))
	assert.Empty(t, e.src.Evicted())

	_, why := mustDRA(t, e).released([]*corev1.Pod{claimPod("light-0")})
	assert.Contains(t, why, "also reserved for pod busy-0, which stays")
}
