package server

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// Intent is the scheduler's choice for one container that kubelet has not
// served yet, as written in the pod's gantry.dev/allocation annotation.
type Intent struct {
	Pod       types.NamespacedName
	UID       types.UID
	Created   time.Time
	Container string
	// ContainerIndex is the container's position (init containers first),
	// the order in which kubelet admits a pod's containers.
	ContainerIndex int
	Shares         []contract.DeviceShare
	// Size is the number of slots the container asks for.
	Size int
	// InAdmission is true when kubelet lists the pod as active but the
	// container holds no devices yet: kubelet is admitting this very pod.
	InAdmission bool
}

func (i *Intent) key() string { return string(i.UID) + "/" + i.Container }

// before orders candidates: pods kubelet is admitting first, then oldest
// pod (kubelet admits a batch in creation order), then name, then container.
func (i *Intent) before(j *Intent) bool {
	if i.InAdmission != j.InAdmission {
		return i.InAdmission
	}
	if !i.Created.Equal(j.Created) {
		return i.Created.Before(j.Created)
	}
	if i.Pod != j.Pod {
		return i.Pod.String() < j.Pod.String()
	}
	return i.ContainerIndex < j.ContainerIndex
}

// podIntents returns the intents of kind on pod, or none when the pod is not
// one a Gantry profile placed on node by the rule every component follows
// (contract.Authority: bound to node, placed by a Gantry profile, the record
// matching the pod's requests), or is deleting.
func podIntents(pod *corev1.Pod, node string, kind device.Kind) []Intent {
	if pod.Spec.NodeName != node || pod.DeletionTimestamp != nil {
		return nil
	}
	a, ok, _ := contract.Authority{}.Intent(pod)
	if !ok {
		return nil
	}
	order := map[string]int{}
	for i, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		order[c.Name] = i
	}
	var out []Intent
	for _, c := range a.Containers {
		idx, inSpec := order[c.Container]
		if c.Kind != kind || !inSpec {
			continue
		}
		size := 0
		for _, d := range c.Devices {
			size += d.Units
		}
		out = append(out, Intent{
			Pod: types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}, UID: pod.UID,
			Created: pod.CreationTimestamp.Time, Container: c.Container, ContainerIndex: idx,
			Shares: c.Devices, Size: size,
		})
	}
	return out
}

// recorded reports whether the pod's gantry.dev/allocated annotation already
// records the container.
func recorded(pod *corev1.Pod, container string, kind device.Kind) bool {
	v, ok := pod.Annotations[contract.AnnotationAllocated]
	if !ok {
		return false
	}
	a, err := contract.DecodeAllocation(v)
	if err != nil {
		return false
	}
	_, ok = a.Container(container, kind)
	return ok
}
