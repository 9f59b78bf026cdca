package deviceshare

import (
	"context"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"
)

// SignPod refuses every pod, on purpose. Opportunistic batching reuses one
// cycle's node ranking for the next pod with the same signature, but this
// plugin's scores follow per-card state that each placement changes: where
// the next share goes depends on which card the last one took, and even a
// pod that asks for no device is scored by the host CPU it leaves to device
// requests (FGD, BestFit). A reused ranking would pack cards wrongly.
func (pl *DeviceShare) SignPod(_ context.Context, _ *v1.Pod) ([]fwk.SignFragment, *fwk.Status) {
	return nil, fwk.NewStatus(fwk.Unschedulable, "GantryDeviceShare scores depend on per-card state that every placement changes")
}
