package simulator

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/autoscaler/utils/podutil"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
	"github.com/gantry-dev/gantry/scheduler/dra"
	"github.com/gantry-dev/gantry/scheduler/simulate"
)

// DefaultHintNodes is how many nodes a hinted cycle offers the scheduler:
// one, so that a hinted cycle filters one node and skips scoring.
const DefaultHintNodes = 1

// ShareSnapshot runs the real framework and plugin over a simulate.Cluster.
//
// On large clusters a full cycle filters and scores every node for every
// pod. With hints on (the default), Schedule first offers the framework
// only the HintNodes fullest nodes on which core's own feasibility check
// (state.Fit, the function the plugin's Filter calls) and host CPU and
// memory say the pod fits, by a required node affinity on their names;
// when that cycle places nothing, or no node qualifies, a full cycle runs.
// Every placement is still the real framework's; hints only choose where
// it looks first (as Cluster Autoscaler's hinting simulator does).
type ShareSnapshot struct {
	opts    simulate.Options
	cluster *simulate.Cluster
	sched   *simulate.Scheduler
	// HintNodes is the shortlist size; 0 turns hints off. The autoscaler's
	// snapshot of the live cluster keeps DefaultHintNodes, so each
	// placement first offers the framework only the single fullest node
	// that core's Fit (and host CPU and memory) accepts, and runs a full
	// cycle only when that places nothing: its what-if placements can
	// differ from the scheduler's configured policy (Spread, say) in which
	// node is chosen, never in whether a pod fits anywhere. Estimates on
	// template nodes run full cycles (HintNodes 0).
	HintNodes int
	states    map[string]*state.NodeState
	// dra holds this snapshot's DRA objects (nil without DRA): the
	// framework's GantryDRA reads them and records its allocations there.
	dra *dra.Memory
}

var (
	_ Snapshot    = &ShareSnapshot{}
	_ DRASnapshot = &ShareSnapshot{}
)

// NewShareSnapshot returns an empty snapshot scheduling with opts. With
// opts.DRA set the snapshot simulates DRA claims too (GantryDRA, see
// simulate.Options.DRA), starting from a copy of opts.DRA's objects.
func NewShareSnapshot(ctx context.Context, opts simulate.Options) (*ShareSnapshot, error) {
	var mem *dra.Memory
	if opts.DRA != nil {
		mem = opts.DRA.Fork()
	}
	return newShare(ctx, opts, simulate.NewCluster(), DefaultHintNodes, map[string]*state.NodeState{}, mem)
}

func newShare(ctx context.Context, opts simulate.Options, c *simulate.Cluster, hints int, states map[string]*state.NodeState, mem *dra.Memory) (*ShareSnapshot, error) {
	opts.DRA = mem
	s, err := simulate.NewScheduler(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	return &ShareSnapshot{opts: opts, cluster: c, sched: s, HintNodes: hints, states: states, dra: mem}, nil
}

// Cluster returns the underlying cluster.
func (s *ShareSnapshot) Cluster() *simulate.Cluster { return s.cluster }

// AddNode implements Snapshot.
func (s *ShareSnapshot) AddNode(node *corev1.Node) {
	s.cluster.AddNode(node, "")
	var pods []*corev1.Pod
	if ni, ok := s.cluster.NodeInfo(node.Name); ok {
		for _, pi := range ni.GetPods() {
			pods = append(pods, pi.GetPod())
		}
	}
	s.states[node.Name] = podutil.NodeState(node, pods)
}

// RemoveNode implements Snapshot; the node's ResourceSlices go with it.
func (s *ShareSnapshot) RemoveNode(name string) {
	s.cluster.RemoveNode(name)
	delete(s.states, name)
	if s.dra != nil {
		s.dra.RemoveNodeSlices(name)
	}
}

// DRA implements DRASnapshot.
func (s *ShareSnapshot) DRA() bool { return s.dra != nil }

// AddSlices implements DRASnapshot.
func (s *ShareSnapshot) AddSlices(slices []*resourceapi.ResourceSlice) {
	if s.dra == nil {
		return
	}
	for _, sl := range slices {
		s.dra.AddSlice(sl)
	}
}

// SetDRAObjects implements DRASnapshot.
func (s *ShareSnapshot) SetDRAObjects(slices []*resourceapi.ResourceSlice, classes []*resourceapi.DeviceClass, claims []*resourceapi.ResourceClaim) {
	if s.dra != nil {
		s.dra.Set(slices, classes, claims)
	}
}

// AddClaim implements DRASnapshot.
func (s *ShareSnapshot) AddClaim(c *resourceapi.ResourceClaim) {
	if s.dra != nil {
		s.dra.AddClaim(c)
	}
}

// Claim implements DRASnapshot.
func (s *ShareSnapshot) Claim(namespace, name string) (*resourceapi.ResourceClaim, bool) {
	if s.dra == nil {
		return nil, false
	}
	return s.dra.Claim(namespace, name)
}

// AddPod implements Snapshot.
func (s *ShareSnapshot) AddPod(pod *corev1.Pod) error {
	if err := s.cluster.Bind(pod); err != nil {
		return err
	}
	return s.hold(pod)
}

// hold records pod in its node's core state (used by the hints). A pod
// whose allocation core does not accept is held for host CPU and memory
// only, and logged; an error when even that fails.
func (s *ShareSnapshot) hold(pod *corev1.Pod) error {
	ns, ok := s.states[pod.Spec.NodeName]
	if !ok {
		return nil
	}
	cpu, mem := podutil.Requests(pod)
	h := state.Holding{CPUMilli: cpu, MemoryMiB: mem}
	if a, ok := podutil.AllocationOf(pod); ok {
		h.Allocation = a
		if pod.Annotations[contract.AnnotationAllowSharedDevice] != "true" {
			h.Workload = share.WorkloadOf(pod)
		}
	}
	if err := ns.Assign(podutil.Key(pod), h); err != nil {
		klog.V(2).InfoS("Simulated node state does not accept the pod's allocation; holding its CPU and memory only", "pod", klog.KObj(pod), "node", pod.Spec.NodeName, "err", err)
		if err := ns.Assign(podutil.Key(pod), state.Holding{CPUMilli: cpu, MemoryMiB: mem}); err != nil {
			return fmt.Errorf("holding pod %s on node %q in the simulated state: %w", podutil.Key(pod), pod.Spec.NodeName, err)
		}
	}
	return nil
}

// RemovePod implements Snapshot.
func (s *ShareSnapshot) RemovePod(pod *corev1.Pod) error {
	if err := s.cluster.Unbind(pod); err != nil {
		return err
	}
	if ns, ok := s.states[pod.Spec.NodeName]; ok {
		ns.Release(podutil.Key(pod))
	}
	return nil
}

// Schedule implements Snapshot with real scheduling cycles.
func (s *ShareSnapshot) Schedule(ctx context.Context, pod *corev1.Pod) (string, *corev1.Pod, string, error) {
	if names := s.shortlist(pod); len(names) > 0 {
		hinted := pod.DeepCopy()
		restrictTo(hinted, names)
		r := s.sched.Schedule(ctx, hinted)
		if err := internalError(r.Status); err != nil {
			return "", nil, "", err
		}
		if r.Status == nil {
			r.Pod.Spec.Affinity = pod.Spec.Affinity
			if err := s.hold(r.Pod); err != nil {
				return "", nil, "", err
			}
			return r.Node, r.Pod, "", nil
		}
	}
	r := s.sched.Schedule(ctx, pod)
	if err := internalError(r.Status); err != nil {
		return "", nil, "", err
	}
	if r.Status != nil {
		return "", nil, r.Status.Message(), nil
	}
	if err := s.hold(r.Pod); err != nil {
		return "", nil, "", err
	}
	return r.Node, r.Pod, "", nil
}

// internalError returns the error of a framework Error status (a plugin
// failed, not a pod that fits nowhere); nil for success or unschedulable.
func internalError(st *fwk.Status) error {
	if st == nil || st.Code() != fwk.Error {
		return nil
	}
	if err := st.AsError(); err != nil {
		return fmt.Errorf("simulated scheduling cycle: %w", err)
	}
	return fmt.Errorf("simulated scheduling cycle: %s", st.Message())
}

// shortlist returns up to HintNodes nodes, fullest first, where core's fit
// and the host's free CPU and memory admit pod; nil when hints are off,
// the pod asks for no device, or its own affinity would be overridden.
func (s *ShareSnapshot) shortlist(pod *corev1.Pod) []string {
	if s.HintNodes <= 0 || (pod.Spec.Affinity != nil && pod.Spec.Affinity.NodeAffinity != nil) {
		return nil
	}
	req, err := share.Parse(pod)
	if err != nil || req.Empty() {
		return nil
	}
	if w := share.WorkloadOf(pod); w != "" && pod.Annotations[contract.AnnotationAllowSharedDevice] != "true" {
		req.Workload = w
	}
	cpu, mem := podutil.Requests(pod)
	type cand struct {
		name string
		free int
	}
	var cands []cand
	for _, ni := range s.cluster.Nodes() {
		name := ni.Node().Name
		ns := s.states[name]
		if ns == nil || ns.CPUFreeMilli < cpu || ns.MemoryFreeMiB < mem {
			continue
		}
		if _, ok := state.Fit(ns, req); !ok {
			continue
		}
		free := 0
		for _, k := range device.Kinds {
			free += ns.Free(k)
		}
		cands = append(cands, cand{name, free})
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].free < cands[j].free })
	out := make([]string, 0, min(len(cands), s.HintNodes))
	for i := 0; i < len(cands) && i < s.HintNodes; i++ {
		out = append(out, cands[i].name)
	}
	return out
}

// restrictTo adds a required node affinity on metadata.name, which the
// NodeAffinity PreFilter turns into the only nodes the cycle filters.
func restrictTo(pod *corev1.Pod, names []string) {
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: names}},
		}}},
	}
}

// Fork implements Snapshot; DRA objects and allocations are forked too.
func (s *ShareSnapshot) Fork(ctx context.Context) (Snapshot, error) {
	states := make(map[string]*state.NodeState, len(s.states))
	for k, v := range s.states {
		states[k] = v.Clone()
	}
	var mem *dra.Memory
	if s.dra != nil {
		mem = s.dra.Fork()
	}
	return newShare(ctx, s.opts, s.cluster.Fork(), s.HintNodes, states, mem)
}

// Empty implements Snapshot. In DRA mode the empty snapshot keeps the
// DeviceClasses and ResourceClaims (pending pods' claims are what an
// estimate on template nodes allocates) and drops every ResourceSlice.
func (s *ShareSnapshot) Empty(ctx context.Context) (Snapshot, error) {
	var mem *dra.Memory
	if s.dra != nil {
		_, classes, claims := s.dra.Objects()
		mem = dra.NewMemory()
		mem.Set(nil, classes, claims)
	}
	return newShare(ctx, s.opts, simulate.NewCluster(), s.HintNodes, map[string]*state.NodeState{}, mem)
}

// WithoutHints returns a snapshot that shares s's state and runs full
// cycles (HintNodes 0): what estimates on template nodes start from.
func (s *ShareSnapshot) WithoutHints() *ShareSnapshot {
	c := *s
	c.HintNodes = 0
	return &c
}

// Len implements Snapshot.
func (s *ShareSnapshot) Len() int { return s.cluster.Len() }
