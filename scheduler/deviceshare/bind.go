package deviceshare

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/contract"
)

var _ fwk.BindPlugin = &DeviceShare{}

// Bind binds a pod that reserved devices with its allocation annotation in
// the Binding itself, when the plugin is configured to (args
// writeAllocation: Bind): the API server copies a Binding's annotations
// onto the pod in the same write that sets spec.nodeName, so the pod is
// never bound without its devices and the PreBind patch (one more API write
// per pod) is saved. Pods without a reservation, or any pod when the plugin
// writes in PreBind, are left to the next binder (DefaultBinder).
func (pl *DeviceShare) Bind(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, nodeName string) *fwk.Status {
	if !pl.bindWrites() {
		return fwk.NewStatus(fwk.Skip)
	}
	d, err := cs.Read(reserveStateKey)
	if err != nil {
		return fwk.NewStatus(fwk.Skip)
	}
	value, err := contract.EncodeAllocation(d.(*reserveState).alloc)
	if err != nil {
		return fwk.AsStatus(err)
	}
	binding := &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
			Annotations: map[string]string{contract.AnnotationAllocation: value}},
		Target: v1.ObjectReference{Kind: "Node", Name: nodeName},
	}
	if err := pl.handle.ClientSet().CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fwk.AsStatus(fmt.Errorf("binding pod %s/%s with its devices: %w", pod.Namespace, pod.Name, err))
	}
	klog.FromContext(ctx).V(4).Info("Bound with devices", "pod", klog.KObj(pod), "node", nodeName)
	return nil
}
