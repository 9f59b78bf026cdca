package simulate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/klog/v2/ktesting"

	"github.com/gantry-dev/gantry/core/coretest"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
)

func TestNodesToFindIsKubeSchedulers(t *testing.T) {
	tests := []struct {
		pct  int32
		all  int
		want int
	}{
		{0, 50, 50},       // below 100 nodes every node is looked at
		{10, 99, 99},      // whatever the percentage
		{0, 1213, 497},    // adaptive: 50 - 1213/125 = 41 %
		{0, 10000, 500},   // adaptive floor: 5 %
		{100, 1213, 1213}, // everything
		{40, 1213, 485},
		{1, 1213, 100}, // never fewer than 100
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, NodesToFind(tc.pct, tc.all), "pct %d of %d nodes", tc.pct, tc.all)
	}
}

const sampledProfile = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: %d
profiles:
  - schedulerName: gantry-scheduler
    plugins:
      multiPoint:
        enabled:
          - name: GantryDeviceShare
`

// TestPercentageOfNodesToScoreSamples: with 40 % of 300 nodes, each cycle
// scores only the 120 nodes after where the last one stopped, so the best
// node of the cluster is not always seen; at 100 % it always is.
func TestPercentageOfNodesToScoreSamples(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	build := func(pct int) *Scheduler {
		c := NewCluster()
		for i := range 300 {
			c.AddNode(coretest.MakeNode(fmt.Sprintf("n%03d", i)).CPU(64000, 262144).GPUs("T4", 4, 16384).Obj(), "")
		}
		s, err := NewScheduler(ctx, c, Options{Profile: fmt.Sprintf(sampledProfile, pct),
			Args: &gantryconfig.DeviceShareArgs{Policy: "Binpack", WorkloadCoveragePercent: 95}})
		require.NoError(t, err)
		return s
	}
	place := func(s *Scheduler, n int) []string {
		var out []string
		for i := range n {
			r := s.Schedule(ctx, coretest.MakePod(fmt.Sprintf("p%03d", i)).GPUPercent(10).Requests(100, 128).Obj())
			require.Nil(t, r.Status, "pod %d", i)
			out = append(out, r.Node)
		}
		return out
	}
	// Binpack on identical nodes: the first pod opens a node, the rest pack
	// onto it for as long as they are shown it.
	all := place(build(100), 4)
	assert.Equal(t, []string{"n000", "n000", "n000", "n000"}, all)
	sampled := place(build(40), 4)
	// Cycle 1 looks at n000..n119, cycle 2 at n120..n239 (n000 unseen),
	// cycle 3 at n240..n059 (wraps; n000 seen again), cycle 4 at n060..n179.
	assert.Equal(t, []string{"n000", "n120", "n000", "n120"}, sampled, strings.Join(sampled, ","))
}
