package deviceshare

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
)

// Reserve chooses the exact devices on the chosen node and remembers them,
// so the next cycles see the cards taken before the pod is even bound.
func (pl *DeviceShare) Reserve(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, nodeName string) *fwk.Status {
	s, err := getPreFilterState(cs)
	if err != nil {
		return fwk.AsStatus(err)
	}
	if s.req.Empty() {
		return nil
	}
	ni, err := pl.handle.SnapshotSharedLister().NodeInfos().Get(nodeName)
	if err != nil {
		return fwk.AsStatus(fmt.Errorf("getting node %q from snapshot: %w", nodeName, err))
	}
	v, err := pl.place(ctx, ni, s)
	if err != nil {
		return fwk.AsStatus(err)
	}
	if !v.ok {
		return fwk.NewStatus(fwk.Unschedulable, "devices on the node were taken since filtering")
	}
	alloc := v.alloc
	pl.nodes.assume(pod.UID, alloc)
	cs.Write(reserveStateKey, &reserveState{alloc: alloc})
	metricPlacements.WithLabelValues(string(pl.args.Policy)).Inc()
	klog.FromContext(ctx).V(4).Info("Reserved devices", "pod", klog.KObj(pod), "node", nodeName, "devices", alloc.Containers)
	return nil
}

// Unreserve forgets the reservation.
func (pl *DeviceShare) Unreserve(_ context.Context, _ fwk.CycleState, pod *v1.Pod, _ string) {
	pl.nodes.forget(pod.UID)
}

// Forget drops the reservation of a pod that already carries its
// allocation, for in-memory callers (scheduler/simulate) that bind a pod
// with its annotation in the same step. kube-scheduler never needs it: a
// reservation there ends when a cycle sees the annotation, or in Unreserve.
func (pl *DeviceShare) Forget(uid types.UID) { pl.nodes.forget(uid) }
