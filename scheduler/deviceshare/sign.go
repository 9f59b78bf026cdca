package deviceshare

import (
	"context"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/share"
)

// SignPod decides batching on purpose. Pods that ask for no device are
// signed (the plugin has nothing to say about them), so batching stays on
// for them. Pods that ask for devices are refused: where the next share goes
// depends on which card the previous one took, so a cached ranking of nodes
// would pack cards wrongly.
func (pl *DeviceShare) SignPod(_ context.Context, pod *v1.Pod) ([]fwk.SignFragment, *fwk.Status) {
	req, err := share.Parse(pod)
	if err != nil || !req.Empty() {
		return nil, fwk.NewStatus(fwk.Unschedulable, "device placement depends on per-card state")
	}
	return []fwk.SignFragment{{Key: Name, Value: "no-devices"}}, nil
}
