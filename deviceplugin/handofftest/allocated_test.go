package handofftest

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-base/metrics/testutil"

	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/discovery/nvmltest"
)

const allocatedMetric = "gantry_deviceplugin_device_allocated_percent"

// TestAllocatedPercentScraped admits pods of mixed sizes through kubelet's
// device manager, then ends them in two rounds, and after each step
// scrapes the agent's /metrics: every card's
// gantry_deviceplugin_device_allocated_percent equals the slots kubelet's
// own records hold on it.
func TestAllocatedPercentScraped(t *testing.T) {
	e := newEnv(t, true)
	rng := rand.New(rand.NewSource(5))
	sizes := []int{10, 25, 40, 100, 200}
	var specs []podSpec
	for i := 0; i < 24; i++ {
		specs = append(specs, podSpec{name: fmt.Sprintf("a-%02d", i), containers: []int{sizes[rng.Intn(len(sizes))]}})
	}
	pods := e.schedule(rng, specs, make([]int, gpus))
	var admitted []*corev1.Pod
	require.Empty(t, e.admitAll(shuffled(rng, pods), &admitted))
	require.Greater(t, len(admitted), 4)
	e.waitAllocated(e.checkNoOvercommit(admitted))

	half := len(admitted) / 2
	e.k.release(admitted[:half]...)
	e.waitAllocated(e.checkNoOvercommit(admitted[half:]))

	e.k.release(admitted[half:]...)
	e.waitAllocated(map[string]int{})
}

// waitAllocated waits until a scrape of the agent shows, for each of the
// node's cards, the units of perDevice (0 where absent), and nothing else.
func (e *env) waitAllocated(perDevice map[string]int) {
	e.t.Helper()
	model := discovery.ModelFromName("NVIDIA A100-SXM4-40GB")
	want := map[string]float64{}
	for i := 0; i < gpus; i++ {
		want[nvmltest.UUID(i)+" gpu "+model] = float64(perDevice[nvmltest.UUID(i)])
	}
	var diff string
	ok := assertEventually(func() bool {
		got, err := scrapeAllocated(e.ctx, e.metricsURL)
		require.NoError(e.t, err)
		diff = cmp.Diff(want, got)
		return diff == ""
	}, 20*time.Second)
	require.True(e.t, ok, "%s (-kubelet,+scraped):\n%s", allocatedMetric, diff)
}

// scrapeAllocated reads the per-card gauge from a /metrics endpoint as
// "device kind model" -> value.
func scrapeAllocated(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	families, err := testutil.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, m := range families[allocatedMetric].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if len(l) != 3 {
			return nil, fmt.Errorf("%s has labels %v; want device, kind and model only", allocatedMetric, l)
		}
		out[l["device"]+" "+l["kind"]+" "+l["model"]] = m.GetGauge().GetValue()
	}
	return out, nil
}
