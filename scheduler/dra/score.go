package dra

import (
	"context"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/policy"
)

// Score returns the strategy's raw score for a pod that asks Gantry
// devices or none at all, and upstream's prioritized-list score for a pod
// with other drivers' claims alone.
func (pl *GantryDRA) Score(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, ni fwk.NodeInfo) (int64, *fwk.Status) {
	s, err := getCycleState(cs)
	if err != nil {
		return 0, fwk.AsStatus(err)
	}
	if !s.scored {
		return pl.DynamicResources.Score(ctx, cs, pod, ni)
	}
	return s.scores[ni.Node().Name], nil
}

// ScoreExtensions returns the plugin itself.
func (pl *GantryDRA) ScoreExtensions() fwk.ScoreExtensions { return pl }

// NormalizeScore maps the strategy's raw scores onto 0..100 as it asks, or
// leaves other pods' scores to upstream.
func (pl *GantryDRA) NormalizeScore(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, scores fwk.NodeScoreList) *fwk.Status {
	s, err := getCycleState(cs)
	if err != nil {
		return fwk.AsStatus(err)
	}
	if !s.scored {
		return pl.DynamicResources.NormalizeScore(ctx, cs, pod, scores)
	}
	raw := make([]int64, len(scores))
	for i := range scores {
		raw[i] = scores[i].Score
	}
	policy.Normalize(pl.strategy, raw)
	for i := range scores {
		scores[i].Score = raw[i]
	}
	return nil
}
