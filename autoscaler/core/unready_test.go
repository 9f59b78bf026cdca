package core

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/component-base/metrics/testutil"
)

func TestNodesNeverReadyAreDeleted(t *testing.T) {
	tests := []struct {
		name        string
		min         int
		keepDeleted bool // the deleted node stays in the cluster for a while
	}{
		{name: "node gone after deletion"},
		{name: "node still listed after deletion", keepDeleted: true},
		{name: "group at its minimum: raised again only after the backoff", min: 2, keepDeleted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := group("t4", "T4", 1, 50, 1)
			g.MinSize = tt.min
			cfg := testConfig(g)
			cfg.ScaleDown.Enabled = false
			e := newEnv(t, cfg, nil)
			e.keepDeleted = tt.keepDeleted
			ready := e.register("t4", 1, true)[0]
			stuck := e.register("t4", 1, false)[0]
			e.run(t0)
			e.run(t0.Add(cfg.MaxNodeProvisionTime))
			assert.Empty(t, e.calls("DeleteNodes"), "not yet past the max provision time")

			e.run(t0.Add(cfg.MaxNodeProvisionTime + time.Second))
			del := e.calls("DeleteNodes")
			require.Len(t, del, 1)
			assert.Equal(t, []string{stuck}, del[0].Nodes)
			require.NotNil(t, e.st.Last.NodeGroups[0].BackedOffUntil, "the group backs off")
			until := *e.st.Last.NodeGroups[0].BackedOffUntil
			v, err := testutil.GetCounterMetricValue(e.a.metrics.FailedScaleUps.WithLabelValues("t4", "unready"))
			require.NoError(t, err)
			assert.Equal(t, 1.0, v)
			assert.True(t, hasEvent(e.events(), EventDeleteUnreadyNode))
			assert.Equal(t, 1, e.st.Last.NodeGroups[0].Target)

			// Deleted once; nothing re-created while backed off.
			e.run(t0.Add(cfg.MaxNodeProvisionTime + 2*time.Second))
			e.run(until.Add(-time.Second))
			assert.Len(t, e.calls("DeleteNodes"), 1)
			assert.Empty(t, e.calls("IncreaseSize"))
			assert.Empty(t, e.calls("DecreaseTargetSize"))

			e.run(until.Add(time.Second))
			inc := e.calls("IncreaseSize")
			if tt.min > 0 {
				require.Len(t, inc, 1, "raised to its minimum once the backoff expired")
				assert.Equal(t, 1, inc[0].Delta)
			} else {
				assert.Empty(t, inc)
			}
			for _, c := range e.calls("DeleteNodes") {
				assert.NotContains(t, c.Nodes, ready, "a ready node is never touched")
			}
			assert.Len(t, e.calls("DeleteNodes"), 1)
		})
	}
}

func TestScaledUpNodeNeverReadyIsDeletedAndBacksOff(t *testing.T) {
	cfg := testConfig(group("t4", "T4", 1, 50, 1))
	e := newEnv(t, cfg, nil)
	e.src.AddPod(pending("p", 100, ""))
	e.run(t0)
	require.Len(t, e.calls("IncreaseSize"), 1)
	stuck := e.register("t4", 1, false)[0]
	e.run(t0.Add(time.Minute))
	e.run(t0.Add(cfg.MaxNodeProvisionTime - time.Second))
	assert.Empty(t, e.calls("DeleteNodes"))

	// Timed from the scale-up, not from registration.
	e.run(t0.Add(cfg.MaxNodeProvisionTime + time.Second))
	del := e.calls("DeleteNodes")
	require.Len(t, del, 1)
	assert.Equal(t, []string{stuck}, del[0].Nodes)
	assert.Empty(t, e.calls("DecreaseTargetSize"), "nothing left to withdraw")
	assert.Len(t, e.calls("IncreaseSize"), 1, "backed off: no new node for the pod")
	require.NotNil(t, e.st.Last.NodeGroups[0].BackedOffUntil)
	v, err := testutil.GetCounterMetricValue(e.a.metrics.FailedScaleUps.WithLabelValues("t4", "unready"))
	require.NoError(t, err)
	assert.Equal(t, 1.0, v)
	v, err = testutil.GetCounterMetricValue(e.a.metrics.FailedScaleUps.WithLabelValues("t4", "timeout"))
	require.NoError(t, err)
	assert.Equal(t, 0.0, v, "the failure is counted once")
}

func hasEvent(evs []string, reason string) bool {
	for _, ev := range evs {
		if strings.Contains(ev, reason) {
			return true
		}
	}
	return false
}

func TestUpcomingNodesRestoredAfterRestart(t *testing.T) {
	tests := []struct {
		name         string
		pending      int
		wantIncrease []int
	}{
		{name: "pods fit the upcoming nodes", pending: 2},
		{name: "one pod more than the upcoming nodes", pending: 3, wantIncrease: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(group("t4", "T4", 1, 50, 1))
			cfg.ScaleDown.Enabled = false
			// A fresh autoscaler over a provider with a scale-up in flight:
			// target 3, one node registered (and full).
			e := newEnv(t, cfg, nil)
			node := e.register("t4", 1, true)[0]
			e.prov.Group("t4").SetTargetSize(3)
			e.src.AddPod(bound("full", node, 100, 0))
			for i := 0; i < tt.pending; i++ {
				e.src.AddPod(pending(fmt.Sprintf("p%d", i), 100, ""))
			}
			e.run(t0)
			var got []int
			for _, c := range e.calls("IncreaseSize") {
				got = append(got, c.Delta)
			}
			assert.Equal(t, tt.wantIncrease, got)
			gs := e.st.Last.NodeGroups[0]
			assert.Equal(t, 2+len(tt.wantIncrease), gs.Upcoming)
			assert.Equal(t, 3+len(tt.wantIncrease), gs.Target)
		})
	}
}

func TestRestoredUpcomingNodesTimeOut(t *testing.T) {
	cfg := testConfig(group("t4", "T4", 1, 50, 1))
	cfg.ScaleDown.Enabled = false
	e := newEnv(t, cfg, nil)
	e.register("t4", 1, true)
	e.prov.Group("t4").SetTargetSize(3)
	e.run(t0)
	assert.Equal(t, 2, e.st.Last.NodeGroups[0].Upcoming)
	e.run(t0.Add(cfg.MaxNodeProvisionTime - time.Second))
	assert.Empty(t, e.calls("DecreaseTargetSize"), "timed from the first loop after the restart")
	e.run(t0.Add(cfg.MaxNodeProvisionTime + time.Second))
	dec := e.calls("DecreaseTargetSize")
	require.Len(t, dec, 1)
	assert.Equal(t, 2, dec[0].Delta)
	assert.Equal(t, 0, e.st.Last.NodeGroups[0].Upcoming)
	require.NotNil(t, e.st.Last.NodeGroups[0].BackedOffUntil)
}
