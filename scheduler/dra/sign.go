package dra

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
)

// SignPod refuses pods with claims, as upstream does (whether a claim is
// single-node is not known here), and signs the others with what the
// policy's score of them reads: their host requests. A policy that hashes
// the pod's name refuses every pod.
func (pl *GantryDRA) SignPod(ctx context.Context, pod *v1.Pod) ([]fwk.SignFragment, *fwk.Status) {
	if len(pod.Spec.ResourceClaims) > 0 {
		return pl.DynamicResources.SignPod(ctx, pod)
	}
	if policy.DependsOnPod(pl.args.Policy) {
		return nil, fwk.NewStatus(fwk.Unschedulable, "the policy's choice depends on the pod's name")
	}
	req := &share.Request{}
	for _, c := range pod.Spec.Containers {
		req.CPUMilli += c.Resources.Requests.Cpu().MilliValue()
		req.MemoryMiB += c.Resources.Requests.Memory().Value() >> 20
	}
	return []fwk.SignFragment{{Key: Name, Value: fmt.Sprintf("%s/%s", pl.args.Policy, requestKey(req))}}, nil
}
