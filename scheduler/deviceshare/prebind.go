package deviceshare

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/scheduler/apis/config"
)

// PreBindPreFlight skips pods that reserved no devices.
func (pl *DeviceShare) PreBindPreFlight(_ context.Context, cs fwk.CycleState, _ *v1.Pod, _ string) (*fwk.PreBindPreFlightResult, *fwk.Status) {
	if _, err := cs.Read(reserveStateKey); err != nil || pl.bindWrites() {
		return nil, fwk.NewStatus(fwk.Skip)
	}
	return nil, nil
}

// PreBind writes the chosen devices on the pod, where the device plugin and
// every later scheduling cycle read them.
func (pl *DeviceShare) PreBind(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, _ string) *fwk.Status {
	d, err := cs.Read(reserveStateKey)
	if err != nil || pl.bindWrites() {
		return nil
	}
	value, err := contract.EncodeAllocation(d.(*reserveState).alloc)
	if err != nil {
		return fwk.AsStatus(err)
	}
	if err := pl.write(ctx, pod, value); err != nil {
		return fwk.AsStatus(fmt.Errorf("writing %s on pod %s/%s: %w", contract.AnnotationAllocation, pod.Namespace, pod.Name, err))
	}
	return nil
}

// patchPod is the default AllocationWriter: a strategic merge patch that
// touches only the allocation annotation.
func (pl *DeviceShare) patchPod(ctx context.Context, pod *v1.Pod, value string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{contract.AnnotationAllocation: value}}})
	if err != nil {
		return fmt.Errorf("encoding the patch: %w", err)
	}
	if _, err := pl.handle.ClientSet().CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patching the pod: %w", err)
	}
	return nil
}

// bindWrites reports whether Bind, not PreBind, writes the allocation.
func (pl *DeviceShare) bindWrites() bool { return pl.args.WriteAllocation == config.WriteInBind }
