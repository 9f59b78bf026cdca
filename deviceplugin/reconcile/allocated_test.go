package reconcile_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	k8smetrics "k8s.io/component-base/metrics"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
)

const allocatedMetric = "gantry_deviceplugin_device_allocated_percent"

// allocated gathers the per-card gauge as "device kind model" -> value.
func allocated(t *testing.T, reg k8smetrics.KubeRegistry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != allocatedMetric {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			require.Len(t, l, 3, "only device, kind and model label a card's series")
			out[l["device"]+" "+l["kind"]+" "+l["model"]] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestAllocatedPercentFollowsKubelet: each pass sets every card's gauge
// to the slots kubelet lists for it, whichever pods hold them (scheduled
// by Gantry or not, recorded or not), and deletes the series of a card
// that left the inventory.
func TestAllocatedPercentFollowsKubelet(t *testing.T) {
	four := gpus(4)
	three := device.Inventory{Devices: four.Devices[:3]}
	remodelled := gpus(3)
	remodelled.Devices[2].Model = "H100"
	steps := []struct {
		name    string
		kubelet map[string]map[string][]string
		inv     device.Inventory
		want    map[string]float64
	}{
		{name: "nothing handed out: every card at 0", inv: four, want: map[string]float64{
			"GPU-0 gpu A100": 0, "GPU-1 gpu A100": 0, "GPU-2 gpu A100": 0, "GPU-3 gpu A100": 0}},
		{name: "shares and whole cards add up per card", inv: four, kubelet: map[string]map[string][]string{
			"a":     {"c0": slots(1, 30)},
			"b":     {"c1": append(slots(3, 100), slots(2, 100)...)},
			"multi": {"c0": slots(0, 25)},
		}, want: map[string]float64{"GPU-0 gpu A100": 25, "GPU-1 gpu A100": 30, "GPU-2 gpu A100": 100, "GPU-3 gpu A100": 100}},
		{name: "released pods give their cards back", inv: four, kubelet: map[string]map[string][]string{
			"b": {"c1": append(slots(3, 100), slots(2, 100)...)},
		}, want: map[string]float64{"GPU-0 gpu A100": 0, "GPU-1 gpu A100": 0, "GPU-2 gpu A100": 100, "GPU-3 gpu A100": 100}},
		{name: "a card that left the inventory loses its series, even while kubelet still lists it", inv: three, kubelet: map[string]map[string][]string{
			"b": {"c1": append(slots(3, 100), slots(2, 100)...)},
		}, want: map[string]float64{"GPU-0 gpu A100": 0, "GPU-1 gpu A100": 0, "GPU-2 gpu A100": 100}},
		{name: "a card whose model changed keeps one series", inv: remodelled, kubelet: map[string]map[string][]string{
			"b": {"c1": slots(2, 100)},
		}, want: map[string]float64{"GPU-0 gpu A100": 0, "GPU-1 gpu A100": 0, "GPU-2 gpu H100": 100}},
	}
	k := &kubelet{}
	e := setup(t, k)
	reg := k8smetrics.NewKubeRegistry()
	e.rec.Metrics = metrics.New().Register(reg)
	require.Empty(t, allocated(t, reg), "no series before the first pass")
	for _, s := range steps {
		k.pods = s.kubelet
		e.rec.Devices = devices{s.inv}
		_, err := e.rec.RunOnce(context.Background())
		require.NoError(t, err, s.name)
		if diff := cmp.Diff(s.want, allocated(t, reg)); diff != "" {
			t.Errorf("%s: %s (-want,+got):\n%s", s.name, allocatedMetric, diff)
		}
	}
}

// When kubelet cannot be asked, the gauge keeps its last values rather
// than dropping every card to 0.
func TestAllocatedPercentKeptWhenKubeletIsDown(t *testing.T) {
	k := &kubelet{pods: map[string]map[string][]string{"a": {"c0": slots(1, 40)}}}
	e := setup(t, k)
	reg := k8smetrics.NewKubeRegistry()
	e.rec.Metrics = metrics.New().Register(reg)
	e.rec.Devices = devices{gpus(2)}
	_, err := e.rec.RunOnce(context.Background())
	require.NoError(t, err)
	want := map[string]float64{"GPU-0 gpu A100": 0, "GPU-1 gpu A100": 40}
	require.Empty(t, cmp.Diff(want, allocated(t, reg)))
	k.err = context.DeadlineExceeded
	_, err = e.rec.RunOnce(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, cmp.Diff(want, allocated(t, reg)))
}
