package podutil

import (
	"fmt"
	"hash/fnv"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// Requests returns the pod's CPU (milli) and memory (MiB) requests as
// kube-scheduler counts them: the sum over containers, at least the
// largest init container.
func Requests(pod *corev1.Pod) (cpuMilli, memMiB int64) {
	for _, c := range pod.Spec.Containers {
		cpuMilli += c.Resources.Requests.Cpu().MilliValue()
		memMiB += c.Resources.Requests.Memory().Value() >> 20
	}
	for _, c := range pod.Spec.InitContainers {
		cpuMilli = max(cpuMilli, c.Resources.Requests.Cpu().MilliValue())
		memMiB = max(memMiB, c.Resources.Requests.Memory().Value()>>20)
	}
	return cpuMilli, memMiB
}

// Units returns the device share units the pod asks for, all kinds
// together; 0 for a pod without a (valid) Gantry request.
func Units(pod *corev1.Pod) int {
	req, err := share.Parse(pod)
	if err != nil || req.Empty() {
		return 0
	}
	n := 0
	for _, k := range device.Kinds {
		n += req.Total(k)
	}
	return n
}

// SortLargestFirst orders pods by device units, then CPU, then memory,
// largest first, name breaking ties: first-fit decreasing order.
func SortLargestFirst(pods []*corev1.Pod) { SortLargestFirstBy(pods, Units) }

// SortLargestFirstBy is SortLargestFirst with the pods' device units
// given by units (in DRA mode they are in the pods' claims).
func SortLargestFirstBy(pods []*corev1.Pod, units func(*corev1.Pod) int) {
	type key struct {
		units    int
		cpu, mem int64
	}
	keys := make(map[*corev1.Pod]key, len(pods))
	for _, p := range pods {
		c, m := Requests(p)
		keys[p] = key{units(p), c, m}
	}
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := keys[pods[i]], keys[pods[j]]
		switch {
		case a.units != b.units:
			return a.units > b.units
		case a.cpu != b.cpu:
			return a.cpu > b.cpu
		case a.mem != b.mem:
			return a.mem > b.mem
		}
		return pods[i].Namespace+"/"+pods[i].Name < pods[j].Namespace+"/"+pods[j].Name
	})
}

// EquivalenceKey is equal for pods the scheduler cannot tell apart: the
// same controller, requests, resource claims (the same claim templates),
// model constraints, selectors, affinity, tolerations and topology spread.
func EquivalenceKey(pod *corev1.Pod) string {
	h := fnv.New64a()
	owner := ""
	if ref := metav1.GetControllerOf(pod); ref != nil {
		owner = string(ref.UID)
	}
	fmt.Fprintf(h, "%s|%s|%s|%s|", pod.Namespace, owner, pod.Annotations[contract.AnnotationGPUModels], pod.Annotations[contract.AnnotationNPUModels])
	for _, c := range pod.Spec.Containers {
		fmt.Fprintf(h, "%v|%v|", c.Resources.Requests, c.Resources.Limits)
	}
	for _, c := range pod.Spec.ResourceClaims {
		fmt.Fprintf(h, "claim %s|%s|%s|", c.Name, ptrString(c.ResourceClaimName), ptrString(c.ResourceClaimTemplateName))
	}
	fmt.Fprintf(h, "%v|%v|%v|%v|%v", pod.Spec.NodeSelector, pod.Spec.Affinity, pod.Spec.Tolerations, pod.Spec.TopologySpreadConstraints, pod.Spec.SchedulerName)
	return fmt.Sprintf("%x", h.Sum64())
}

func ptrString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Key returns namespace/name.
func Key(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// NodeState returns the core state of node with pods' allocations held,
// and host CPU/memory free after their requests. Pods whose allocation is
// missing or does not fit are counted for host resources only.
func NodeState(node *corev1.Node, pods []*corev1.Pod) *state.NodeState {
	inv, _ := contract.InventoryOf(node)
	cpu := node.Status.Allocatable.Cpu().MilliValue()
	mem := node.Status.Allocatable.Memory().Value() >> 20
	ns := state.New(node.Name, node.Labels[corev1.LabelTopologyZone], inv)
	usedCPU, usedMem := int64(0), int64(0)
	for _, p := range pods {
		c, m := Requests(p)
		usedCPU, usedMem = usedCPU+c, usedMem+m
		if a, ok := AllocationOf(p); ok {
			if err := ns.Assign(Key(p), state.Holding{Allocation: a}); err != nil {
				klog.V(2).InfoS("Node state does not accept the pod's allocation; counting its CPU and memory only", "pod", klog.KObj(p), "node", node.Name, "err", err)
			}
		}
	}
	return ns.WithHost(cpu, cpu-usedCPU, mem-usedMem)
}

// ShareUtilization returns the fraction of the node's device units that
// pods hold; for a node without devices, the fraction of CPU requested.
func ShareUtilization(node *corev1.Node, pods []*corev1.Pod) float64 {
	ns := NodeState(node, pods)
	total, used := 0, 0
	for _, k := range device.Kinds {
		total += ns.Capacity(k)
		used += ns.Used(k)
	}
	if total > 0 {
		return float64(used) / float64(total)
	}
	if ns.CPUAllocMilli == 0 {
		return 0
	}
	return float64(ns.CPUAllocMilli-ns.CPUFreeMilli) / float64(ns.CPUAllocMilli)
}

// allocations caches decoded allocation annotations by their value: every
// loop reads the allocation of every bound pod several times, and the
// values, which name node and device IDs, repeat across loops.
var allocations = struct {
	sync.Mutex
	m map[string]contract.Allocation
}{m: map[string]contract.Allocation{}}

const maxCachedAllocations = 1 << 18

// authority decides which records count, as the scheduler and inspect
// decide; only the decoding is cached here.
var authority = contract.Authority{Decode: decodeCached}

// AllocationOf returns the allocation record of pod that counts
// (contract.Authority: bound to the node it names, placed by Gantry or
// recorded by the node agent, matching the pod's requests), with decoded
// values cached. A forged or stale record counts as nothing. The returned
// allocation is shared and must not be changed.
func AllocationOf(pod *corev1.Pod) (contract.Allocation, bool) {
	a, _, ok, err := authority.Counted(pod)
	if err != nil {
		klog.V(4).InfoS("Pod carries an allocation record that does not count", "pod", klog.KObj(pod), "err", err)
	}
	return a, ok
}

func decodeCached(v string) (contract.Allocation, error) {
	allocations.Lock()
	a, hit := allocations.m[v]
	allocations.Unlock()
	if hit {
		return a, nil
	}
	a, err := contract.DecodeAllocation(v)
	if err != nil {
		return contract.Allocation{}, err
	}
	allocations.Lock()
	if len(allocations.m) >= maxCachedAllocations {
		allocations.m = map[string]contract.Allocation{}
	}
	allocations.m[v] = a
	allocations.Unlock()
	return a, nil
}
