package deviceshare

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/state"
)

// Filter rejects nodes where the request cannot be placed card by card.
func (pl *DeviceShare) Filter(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, ni fwk.NodeInfo) *fwk.Status {
	s, err := getPreFilterState(cs)
	if err != nil {
		return fwk.AsStatus(err)
	}
	st, err := pl.stateFor(ctx, ni)
	if err != nil {
		return fwk.NewStatus(fwk.UnschedulableAndUnresolvable, err.Error())
	}
	if reason, ok := state.Fit(st, s.req); !ok {
		code := fwk.Unschedulable
		if reason.Unresolvable {
			code = fwk.UnschedulableAndUnresolvable
		}
		return fwk.NewStatus(code, reason.Message())
	}
	return nil
}

// stateFor returns the node's device state, logging pods whose records
// could not be applied.
func (pl *DeviceShare) stateFor(ctx context.Context, ni fwk.NodeInfo) (*state.NodeState, error) {
	st, skipped, err := pl.nodes.stateFor(ni)
	pl.logSkipped(ctx, ni, skipped)
	return st, err
}

func (pl *DeviceShare) logSkipped(ctx context.Context, ni fwk.NodeInfo, skipped []skippedPod) {
	if len(skipped) == 0 {
		return
	}
	if logger := klog.FromContext(ctx).V(4); logger.Enabled() {
		for _, s := range skipped {
			logger.Info("Ignoring a pod's device record", "pod", klog.KObj(s.pod), "node", klog.KObj(ni.Node()), "err", s.err)
		}
	}
}
