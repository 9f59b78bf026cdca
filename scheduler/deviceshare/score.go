package deviceshare

import (
	"context"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// PreScore counts the pod's fellow device-holding replicas per zone, for
// zone spread.
func (pl *DeviceShare) PreScore(_ context.Context, cs fwk.CycleState, pod *v1.Pod, nodes []fwk.NodeInfo) *fwk.Status {
	s, err := getPreFilterState(cs)
	if err != nil {
		return fwk.AsStatus(err)
	}
	// Pods that ask for no device are still scored: where they go decides
	// which nodes keep host CPU for the device requests to come (the FGD
	// paper's policies all score them).
	if s.req.Empty() || s.req.Workload == "" || pl.args.ZoneSpreadWeight == 0 {
		return nil
	}
	all, err := pl.handle.SnapshotSharedLister().NodeInfos().List()
	if err != nil {
		return fwk.AsStatus(err)
	}
	counts := map[string]int{}
	for _, ni := range all {
		zone := ni.Node().Labels[v1.LabelTopologyZone]
		for _, pi := range ni.GetPods() {
			if p := pi.GetPod(); p.UID != pod.UID && share.WorkloadOf(p) == s.req.Workload {
				counts[zone]++
			}
		}
	}
	maxCount := 0
	zones := map[string]int64{}
	for _, ni := range nodes {
		zone := ni.Node().Labels[v1.LabelTopologyZone]
		zones[zone] = 0
		maxCount = max(maxCount, counts[zone])
	}
	for z := range zones {
		zones[z] = policy.ZoneSpreadScore(counts[z], maxCount)
	}
	cs.Write(preScoreStateKey, &preScoreState{zoneScore: zones})
	return nil
}

// Score returns the strategy's raw score for the node.
func (pl *DeviceShare) Score(ctx context.Context, cs fwk.CycleState, _ *v1.Pod, ni fwk.NodeInfo) (int64, *fwk.Status) {
	s, err := getPreFilterState(cs)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	v, err := pl.place(ctx, ni, s)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	if !v.ok {
		return 0, nil
	}
	return v.score, nil
}

// place returns the strategy's allocation and raw score for the request on
// the node, memoised per node generation: in a burst of same-shaped pods
// only the node that took the last one is scored again.
func (pl *DeviceShare) place(ctx context.Context, ni fwk.NodeInfo, s *preFilterState) (memoValue, error) {
	e, err := pl.nodes.entry(ni)
	if err != nil {
		return memoValue{}, err
	}
	if e.invErr != nil {
		if s.req.Empty() {
			// A node whose inventory is broken can still run a pod that
			// asks for no device; it just earns nothing from this plugin.
			return memoValue{ok: true}, nil
		}
		return memoValue{}, e.invErr
	}
	pl.logSkipped(ctx, ni, e.skipped)
	alloc, req := ni.GetAllocatable(), ni.GetRequested()
	cpuFree, memFree := alloc.GetMilliCPU()-req.GetMilliCPU(), (alloc.GetMemory()-req.GetMemory())>>20
	strategy, version := pl.strategy.getVersioned()
	k := memoKey{request: s.key, cpuFree: cpuFree, memFree: memFree, strategy: version}
	return e.scored(k, func() memoValue {
		a, score, ok := strategy.Score(withHost(e.state, ni), s.req)
		return memoValue{alloc: a, score: score, ok: ok}
	}), nil
}

// withHost returns a shallow copy of st that knows the node's host CPU and
// memory from ni, for strategies that weigh them.
func withHost(st *state.NodeState, ni fwk.NodeInfo) *state.NodeState {
	c := *st
	alloc, req := ni.GetAllocatable(), ni.GetRequested()
	c.CPUAllocMilli = alloc.GetMilliCPU()
	c.CPUFreeMilli = alloc.GetMilliCPU() - req.GetMilliCPU()
	c.MemoryFreeMiB = (alloc.GetMemory() - req.GetMemory()) >> 20
	return &c
}

// ScoreExtensions returns the plugin itself: it normalises its scores.
func (pl *DeviceShare) ScoreExtensions() fwk.ScoreExtensions { return pl }

// NormalizeScore maps raw scores onto 0..100 as the strategy asks and then
// blends in zone spread.
func (pl *DeviceShare) NormalizeScore(_ context.Context, cs fwk.CycleState, _ *v1.Pod, scores fwk.NodeScoreList) *fwk.Status {
	raw := make([]int64, len(scores))
	for i := range scores {
		raw[i] = scores[i].Score
	}
	policy.Normalize(pl.strategy.get(), raw)
	var zones map[string]int64
	if d, err := cs.Read(preScoreStateKey); err == nil {
		zones = d.(*preScoreState).zoneScore
	}
	for i := range scores {
		scores[i].Score = raw[i]
		if zones == nil {
			continue
		}
		ni, err := pl.handle.SnapshotSharedLister().NodeInfos().Get(scores[i].Name)
		if err != nil {
			return fwk.AsStatus(err)
		}
		scores[i].Score = policy.Blend(raw[i], zones[ni.Node().Labels[v1.LabelTopologyZone]], pl.args.ZoneSpreadWeight)
	}
	return nil
}
