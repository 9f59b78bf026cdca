package deviceshare

import (
	"context"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
)

// SignPod lets kube-scheduler batch pods whose scores this plugin can
// vouch for, and refuses the others on purpose.
//
// Opportunistic batching (KEP-5598) reuses one cycle's node ranking for the
// next pod with the same signature only once the top node no longer fits it,
// and then only for the nodes the last placement did not touch. This
// plugin's score of a node depends on that node's cards and host alone, and
// on the request's shape, which the fragment carries, so the reuse is sound
// except where a score depends on something else:
//   - replicas of a workload are spread across zones, so a placement changes
//     every node of its zone: refused;
//   - a strategy that learns the workload's shapes changes as pods arrive:
//     refused;
//   - Random hashes the pod's name: refused.
//
// Malformed requests are refused too: PreFilter explains them.
func (pl *DeviceShare) SignPod(_ context.Context, pod *v1.Pod) ([]fwk.SignFragment, *fwk.Status) {
	req, err := share.Parse(pod)
	switch {
	case err != nil:
		return nil, fwk.NewStatus(fwk.Unschedulable, "malformed Gantry request")
	case req.Workload != "" && pl.args.ZoneSpreadWeight > 0:
		return nil, fwk.NewStatus(fwk.Unschedulable, "replicas are spread across zones: every placement changes the zone's scores")
	case pl.strategy.observed != nil:
		return nil, fwk.NewStatus(fwk.Unschedulable, "the policy learns the workload's shapes as pods arrive")
	case policy.DependsOnPod(pl.args.Policy):
		return nil, fwk.NewStatus(fwk.Unschedulable, "the policy's choice depends on the pod's name")
	}
	return []fwk.SignFragment{{Key: Name, Value: requestKey(req, pl.args.Policy)}}, nil
}
