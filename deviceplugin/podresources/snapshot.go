package podresources

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// Snapshot is what kubelet reported at one moment: every active pod, and for
// each of its containers the Gantry device IDs it holds, per resource.
type Snapshot struct {
	pods map[types.NamespacedName]map[string]map[corev1.ResourceName][]string
}

// NewSnapshot keeps the Gantry resources of a List answer. Device IDs are
// deduplicated (kubelet lists a device once per NUMA node it sits on) and
// sorted.
func NewSnapshot(resp *podresourcesv1.ListPodResourcesResponse) Snapshot {
	s := Snapshot{pods: map[types.NamespacedName]map[string]map[corev1.ResourceName][]string{}}
	for _, p := range resp.GetPodResources() {
		key := types.NamespacedName{Namespace: p.GetNamespace(), Name: p.GetName()}
		containers := map[string]map[corev1.ResourceName][]string{}
		for _, c := range p.GetContainers() {
			byRes := map[corev1.ResourceName]map[string]bool{}
			for _, d := range c.GetDevices() {
				res := corev1.ResourceName(d.GetResourceName())
				if _, ok := KindOf(res); !ok {
					continue
				}
				if byRes[res] == nil {
					byRes[res] = map[string]bool{}
				}
				for _, id := range d.GetDeviceIds() {
					byRes[res][id] = true
				}
			}
			ids := map[corev1.ResourceName][]string{}
			for res, set := range byRes {
				for id := range set {
					ids[res] = append(ids[res], id)
				}
				sort.Strings(ids[res])
			}
			containers[c.GetName()] = ids
		}
		s.pods[key] = containers
	}
	return s
}

// KindOf returns the device kind of a Gantry extended resource.
func KindOf(res corev1.ResourceName) (device.Kind, bool) {
	for _, k := range device.Kinds {
		if contract.ResourceFor(k) == res {
			return k, true
		}
	}
	return "", false
}

// Listed reports whether kubelet lists the pod as active.
func (s Snapshot) Listed(pod types.NamespacedName) bool {
	_, ok := s.pods[pod]
	return ok
}

// Holds reports whether the container holds devices of res.
func (s Snapshot) Holds(pod types.NamespacedName, container string, res corev1.ResourceName) bool {
	return len(s.pods[pod][container][res]) > 0
}

// Admitting reports whether kubelet lists the pod as active while one of its
// containers that asks for one of res holds nothing of it yet: kubelet is
// admitting the pod right now, and what it holds is partial.
func (s Snapshot) Admitting(pod *corev1.Pod, res ...corev1.ResourceName) bool {
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	if !s.Listed(key) {
		return false
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, r := range res {
				if q, ok := c.Resources.Limits[r]; ok && !q.IsZero() && !s.Holds(key, c.Name, r) {
					return true
				}
			}
		}
	}
	return false
}

// Pods returns every listed pod, sorted.
func (s Snapshot) Pods() []types.NamespacedName {
	out := make([]types.NamespacedName, 0, len(s.pods))
	for k := range s.pods {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Allocation turns what the pod holds into the contract's record, with
// containers in the pod's spec order. ok is false when the pod holds no
// Gantry device. Device indices come from inv; a device inv does not know
// gets contract.UnknownIndex.
func (s Snapshot) Allocation(node string, pod *corev1.Pod, inv device.Inventory) (a contract.Allocation, ok bool, err error) {
	containers := s.pods[types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}]
	a.Node = node
	for _, name := range containerOrder(pod, containers) {
		for _, k := range device.Kinds {
			ids := containers[name][contract.ResourceFor(k)]
			if len(ids) == 0 {
				continue
			}
			devs, units, err := contract.GroupSlots(ids)
			if err != nil {
				return contract.Allocation{}, false, fmt.Errorf("container %q holds malformed %s IDs: %w", name, contract.ResourceFor(k), err)
			}
			ca := contract.ContainerAllocation{Container: name, Kind: k}
			for _, id := range devs {
				idx := contract.UnknownIndex
				if d, ok := inv.ByID(id); ok {
					idx = d.Index
				}
				ca.Devices = append(ca.Devices, contract.DeviceShare{ID: id, Index: idx, Units: units[id]})
			}
			sort.Slice(ca.Devices, func(i, j int) bool {
				if ca.Devices[i].Index != ca.Devices[j].Index {
					return ca.Devices[i].Index < ca.Devices[j].Index
				}
				return ca.Devices[i].ID < ca.Devices[j].ID
			})
			a.Containers = append(a.Containers, ca)
		}
	}
	return a, len(a.Containers) > 0, nil
}

// containerOrder lists the pod's containers (restartable init containers
// first, as kubelet does) followed by any the spec does not name.
func containerOrder(pod *corev1.Pod, held map[string]map[corev1.ResourceName][]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if _, ok := held[c.Name]; ok && !seen[c.Name] {
				seen[c.Name] = true
				out = append(out, c.Name)
			}
		}
	}
	var rest []string
	for name := range held {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// Held returns, per device ID, how many distinct slots of it kubelet lists
// as held by active pods, over every Gantry resource: the percent of the
// card handed out. IDs that are not slot IDs are left out.
func (s Snapshot) Held() map[string]int {
	seen := map[string]bool{}
	out := map[string]int{}
	for _, containers := range s.pods {
		for _, byRes := range containers {
			for _, ids := range byRes {
				for _, id := range ids {
					if seen[id] {
						continue
					}
					seen[id] = true
					if dev, _, err := contract.ParseSlotID(id); err == nil {
						out[dev]++
					}
				}
			}
		}
	}
	return out
}
