package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
	testclock "k8s.io/utils/clock/testing"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
	"github.com/gantry-dev/gantry/deviceplugin/server"
)

// kubeletView is a fake PodResources API: listed pods and what they hold.
type kubeletView struct {
	pods map[string]map[string][]string // pod name -> container -> slot IDs
	err  error
}

func (k *kubeletView) List(context.Context) (*podresourcesv1.ListPodResourcesResponse, error) {
	if k.err != nil {
		return nil, k.err
	}
	resp := &podresourcesv1.ListPodResourcesResponse{}
	for name, cs := range k.pods {
		pr := &podresourcesv1.PodResources{Namespace: "default", Name: name}
		for c, ids := range cs {
			cr := &podresourcesv1.ContainerResources{Name: c}
			if len(ids) > 0 {
				cr.Devices = []*podresourcesv1.ContainerDevices{{ResourceName: string(contract.ResourceGPUPercent), DeviceIds: ids}}
			}
			pr.Containers = append(pr.Containers, cr)
		}
		resp.PodResources = append(resp.PodResources, pr)
	}
	return resp, nil
}

func steerer(prl *kubeletView, pods ...*corev1.Pod) *server.Steerer {
	cfg := server.SteererConfig{Node: node, Kind: device.GPU, Pods: lister(pods...)}
	if prl != nil {
		cfg.PodResources = prl
	}
	return server.NewSteerer(cfg)
}

func deviceOf(t *testing.T, ids []string) (string, int) {
	t.Helper()
	devs, units, err := contract.GroupSlots(ids)
	require.NoError(t, err)
	require.Len(t, devs, 1, "one device expected, got %v", units)
	return devs[0], units[devs[0]]
}

func TestSteerToTheSchedulersDevice(t *testing.T) {
	inv := gpus(8)
	s := steerer(&kubeletView{}, podWith("p", 1, [][2]int{{6, 30}}))
	d := s.Prefer(context.Background(), inv, allSlots(inv), nil, 30)
	require.Equal(t, metrics.SteerIntent, d.Source)
	require.Equal(t, slots(6, 0, 30), d.IDs)
	require.Equal(t, "c0", d.Intent.Container)
}

func TestSteerMatchingRule(t *testing.T) {
	inv := gpus(8)
	ctx := context.Background()
	t.Run("size must match", func(t *testing.T) {
		d := steerer(&kubeletView{}, podWith("p", 1, [][2]int{{6, 30}})).Prefer(ctx, inv, allSlots(inv), nil, 20)
		require.Equal(t, metrics.SteerFallback, d.Source)
	})
	t.Run("the intended device needs the room", func(t *testing.T) {
		var avail []string
		for _, id := range allSlots(inv) {
			if dev, slot, _ := contract.ParseSlotID(id); dev != gpuID(6) || slot >= 80 {
				avail = append(avail, id) // only 20 slots left on GPU-6
			}
		}
		d := steerer(&kubeletView{}, podWith("p", 1, [][2]int{{6, 30}})).Prefer(ctx, inv, avail, nil, 30)
		require.Equal(t, metrics.SteerFallback, d.Source)
		dev, _ := deviceOf(t, d.IDs)
		require.NotEqual(t, gpuID(6), dev)
	})
	t.Run("unhealthy intended device", func(t *testing.T) {
		sick := gpus(8)
		sick.Devices[6].Health = device.Unhealthy
		d := steerer(&kubeletView{}, podWith("p", 1, [][2]int{{6, 30}})).Prefer(ctx, sick, allSlots(sick), nil, 30)
		require.Equal(t, metrics.SteerFallback, d.Source)
	})
	t.Run("pods the scheduler did not place are ignored", func(t *testing.T) {
		other := podWith("other-scheduler", 1, [][2]int{{1, 30}})
		other.Spec.SchedulerName = "default-scheduler"
		elsewhere := podWith("other-node", 1, [][2]int{{2, 30}})
		elsewhere.Spec.NodeName = "node-b"
		done := podWith("done", 1, [][2]int{{3, 30}})
		done.Status.Phase = corev1.PodSucceeded
		deleting := podWith("deleting", 1, [][2]int{{4, 30}})
		deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(5, 0)}
		garbage := podWith("garbage", 1, [][2]int{{5, 30}})
		garbage.Annotations[contract.AnnotationAllocation] = "{not json"
		d := steerer(&kubeletView{}, other, elsewhere, done, deleting, garbage).Prefer(ctx, inv, allSlots(inv), nil, 30)
		require.Equal(t, metrics.SteerFallback, d.Source)
	})
	t.Run("an intent that does not match the pod's requests grants nothing", func(t *testing.T) {
		forged := podWith("forged", 1, [][2]int{{1, 30}})
		forged.Spec.Containers[0].Resources.Limits[contract.ResourceGPUPercent] = resource.MustParse("10")
		d := steerer(&kubeletView{}, forged).Prefer(ctx, inv, allSlots(inv), nil, 30)
		require.Equal(t, metrics.SteerFallback, d.Source)
	})
	t.Run("every Gantry profile's intents are served", func(t *testing.T) {
		bind := podWith("bind", 1, [][2]int{{2, 30}})
		bind.Spec.SchedulerName = contract.ProfilePrefix + "bind"
		d := steerer(&kubeletView{}, bind).Prefer(ctx, inv, allSlots(inv), nil, 30)
		require.Equal(t, metrics.SteerIntent, d.Source)
		require.Equal(t, slots(2, 0, 30), d.IDs)
	})
	t.Run("kubelet's pod under admission wins over older pods", func(t *testing.T) {
		older := podWith("older", 1, [][2]int{{1, 30}})
		admitting := podWith("admitting", 2, [][2]int{{2, 30}})
		view := &kubeletView{pods: map[string]map[string][]string{"admitting": {"c0": nil}}}
		d := steerer(view, older, admitting).Prefer(ctx, inv, allSlots(inv), nil, 30)
		require.Equal(t, "admitting", d.Intent.Pod.Name)
		require.True(t, d.Intent.InAdmission)
	})
	t.Run("a pod kubelet admits without an intent spares the room others expect", func(t *testing.T) {
		x := podWith("x", 3, [][2]int{{0, 30}})
		delete(x.Annotations, contract.AnnotationAllocation) // not placed by the scheduler
		var avail []string
		avail = append(avail, slots(1, 60, 40)...)
		avail = append(avail, slots(2, 65, 35)...)
		avail = append(avail, slots(3, 0, 100)...)
		view := &kubeletView{pods: map[string]map[string][]string{"x": {"c0": nil}}}
		d := steerer(view, podWith("a", 1, [][2]int{{1, 30}}), podWith("b", 2, [][2]int{{2, 30}}), x).Prefer(ctx, inv, avail, nil, 30)
		require.Equal(t, metrics.SteerFallback, d.Source)
		dev, _ := deviceOf(t, d.IDs)
		require.Equal(t, gpuID(3), dev, "GPU-1 and GPU-2 keep the room a and b were promised")
	})
	t.Run("when the admitted pod's device is full, other pods' intents are not taken", func(t *testing.T) {
		var avail []string
		avail = append(avail, slots(1, 60, 40)...)
		avail = append(avail, slots(3, 0, 100)...)
		view := &kubeletView{pods: map[string]map[string][]string{"x": {"c0": nil}}}
		d := steerer(view, podWith("a", 1, [][2]int{{1, 30}}), podWith("x", 2, [][2]int{{2, 30}})).Prefer(ctx, inv, avail, nil, 30)
		require.Equal(t, metrics.SteerFallback, d.Source)
		dev, _ := deviceOf(t, d.IDs)
		require.Equal(t, gpuID(3), dev)
	})
	t.Run("oldest pod first, then name", func(t *testing.T) {
		d := steerer(&kubeletView{}, podWith("b", 2, [][2]int{{1, 30}}), podWith("c", 1, [][2]int{{2, 30}}), podWith("a", 2, [][2]int{{3, 30}})).
			Prefer(ctx, inv, allSlots(inv), nil, 30)
		require.Equal(t, "c", d.Intent.Pod.Name)
	})
	t.Run("served containers are skipped, by kubelet's word", func(t *testing.T) {
		p := podWith("p", 1, [][2]int{{1, 30}}, [][2]int{{2, 30}})
		view := &kubeletView{pods: map[string]map[string][]string{"p": {"c0": slots(1, 0, 30), "c1": nil}}}
		d := steerer(view, p).Prefer(ctx, inv, allSlots(inv), nil, 30)
		require.Equal(t, "c1", d.Intent.Container)
		require.Equal(t, slots(2, 0, 30), d.IDs)
	})
	t.Run("forged allocated annotation does not hide a pod from kubelet's word", func(t *testing.T) {
		p := podWith("p", 1, [][2]int{{1, 30}})
		p.Annotations[contract.AnnotationAllocated] = p.Annotations[contract.AnnotationAllocation]
		d := steerer(&kubeletView{}, p).Prefer(ctx, inv, allSlots(inv), nil, 30)
		require.Equal(t, metrics.SteerIntent, d.Source)
	})
}

func TestSteerWithoutPodResources(t *testing.T) {
	inv := gpus(8)
	ctx := context.Background()
	clk := testclock.NewFakeClock(time.Unix(0, 0))
	a, b := podWith("a", 1, [][2]int{{1, 30}}), podWith("b", 2, [][2]int{{2, 30}})
	s := server.NewSteerer(server.SteererConfig{Node: node, Kind: device.GPU, Pods: lister(a, b),
		PodResources: &kubeletView{err: errors.New("connection refused")}, Clock: clk, LedgerTTL: time.Minute})

	// Oldest first; a steered intent is not steered to again while the
	// ledger remembers it.
	d := s.Prefer(ctx, inv, allSlots(inv), nil, 30)
	require.Equal(t, "a", d.Intent.Pod.Name)
	d = s.Prefer(ctx, inv, allSlots(inv), nil, 30)
	require.Equal(t, "b", d.Intent.Pod.Name)
	d = s.Prefer(ctx, inv, allSlots(inv), nil, 30)
	require.Equal(t, metrics.SteerFallback, d.Source)
	clk.Step(time.Minute)
	d = s.Prefer(ctx, inv, allSlots(inv), nil, 30)
	require.Equal(t, "a", d.Intent.Pod.Name)

	// A recorded allocation counts as served.
	a.Annotations[contract.AnnotationAllocated] = a.Annotations[contract.AnnotationAllocation]
	clk.Step(time.Minute)
	d = s.Prefer(ctx, inv, allSlots(inv), nil, 30)
	require.Equal(t, "b", d.Intent.Pod.Name)
}

func TestSteerFallback(t *testing.T) {
	inv := gpus(8)
	ctx := context.Background()
	// GPU-3 has 40 free slots, GPU-5 has 35, every other GPU is full.
	var avail []string
	avail = append(avail, slots(3, 60, 40)...)
	avail = append(avail, slots(5, 10, 35)...)
	var nilSteerer *server.Steerer

	d := nilSteerer.Prefer(ctx, inv, avail, nil, 30)
	require.Equal(t, metrics.SteerFallback, d.Source)
	require.Equal(t, slots(5, 10, 30), d.IDs, "best fit: the device with the least room that fits")

	d = nilSteerer.Prefer(ctx, inv, avail, nil, 38)
	require.Equal(t, slots(3, 60, 38), d.IDs)

	d = nilSteerer.Prefer(ctx, inv, avail, nil, 41)
	require.Equal(t, metrics.SteerNone, d.Source, "no single device fits; kubelet decides and Allocate will say why it fails")

	// Whole devices: prefer one link group, the one with the fewest free.
	avail = nil
	for _, i := range []int{0, 1, 2, 5, 6} {
		avail = append(avail, slots(i, 0, 100)...)
	}
	d = nilSteerer.Prefer(ctx, inv, avail, nil, 200)
	require.Equal(t, append(slots(5, 0, 100), slots(6, 0, 100)...), d.IDs)
	d = nilSteerer.Prefer(ctx, inv, avail, nil, 300)
	require.Equal(t, append(append(slots(0, 0, 100), slots(1, 0, 100)...), slots(2, 0, 100)...), d.IDs)
	d = nilSteerer.Prefer(ctx, inv, avail, nil, 400)
	require.Len(t, d.IDs, 400)
	d = nilSteerer.Prefer(ctx, inv, avail, nil, 600)
	require.Equal(t, metrics.SteerNone, d.Source)
	d = nilSteerer.Prefer(ctx, inv, avail, nil, 150)
	require.Equal(t, metrics.SteerNone, d.Source)

	// Must-include IDs are kept and topped up from the same device.
	d = nilSteerer.Prefer(ctx, inv, avail, slots(6, 0, 2), 5)
	require.Equal(t, append(slots(6, 0, 2), slots(6, 2, 3)...), d.IDs)
}
