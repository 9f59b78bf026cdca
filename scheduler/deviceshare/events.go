package deviceshare

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/contract"
)

// EventsToRegister returns the events that can make a rejected pod fit: a
// node appearing or publishing new devices, and a pod holding devices going
// away.
func (pl *DeviceShare) EventsToRegister(context.Context) ([]fwk.ClusterEventWithHint, error) {
	return []fwk.ClusterEventWithHint{
		{Event: fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add | fwk.UpdateNodeAllocatable | fwk.UpdateNodeLabel | fwk.UpdateNodeAnnotation}, QueueingHintFn: isSchedulableAfterNodeChange},
		{Event: fwk.ClusterEvent{Resource: fwk.AssignedPod, ActionType: fwk.Delete}, QueueingHintFn: isSchedulableAfterPodDeleted},
	}, nil
}

func isSchedulableAfterNodeChange(logger klog.Logger, pod *v1.Pod, oldObj, newObj interface{}) (fwk.QueueingHint, error) {
	newNode, ok := newObj.(*v1.Node)
	if !ok {
		return fwk.Queue, nil
	}
	if _, has := newNode.Annotations[contract.AnnotationInventory]; !has {
		logger.V(5).Info("Node publishes no devices", "pod", klog.KObj(pod), "node", klog.KObj(newNode))
		return fwk.QueueSkip, nil
	}
	oldNode, ok := oldObj.(*v1.Node)
	if !ok || oldNode == nil {
		return fwk.Queue, nil
	}
	if oldNode.Annotations[contract.AnnotationInventory] != newNode.Annotations[contract.AnnotationInventory] ||
		!labelsEqual(oldNode.Labels, newNode.Labels) {
		return fwk.Queue, nil
	}
	logger.V(5).Info("Node's devices did not change", "pod", klog.KObj(pod), "node", klog.KObj(newNode))
	return fwk.QueueSkip, nil
}

func isSchedulableAfterPodDeleted(logger klog.Logger, pod *v1.Pod, oldObj, _ interface{}) (fwk.QueueingHint, error) {
	deleted, ok := oldObj.(*v1.Pod)
	if !ok {
		return fwk.Queue, nil
	}
	_, hasIntent := deleted.Annotations[contract.AnnotationAllocation]
	_, hasRecord := deleted.Annotations[contract.AnnotationAllocated]
	if hasIntent || hasRecord {
		return fwk.Queue, nil
	}
	logger.V(5).Info("Deleted pod held no devices", "pod", klog.KObj(pod), "deleted", klog.KObj(deleted))
	return fwk.QueueSkip, nil
}

func labelsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
