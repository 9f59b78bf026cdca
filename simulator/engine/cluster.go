package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/state"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/simulate"
	"github.com/gantry-dev/gantry/simulator/dramode"
	"github.com/gantry-dev/gantry/simulator/trace"
)

// sim is one simulated cluster: the framework's in-memory Cluster and
// Scheduler, plus the engine's own per-node books (device state, host CPU
// left and fragment value) that it keeps in step with every bind and unbind
// so that metrics never need a full recomputation.
type sim struct {
	cluster  *simulate.Cluster
	sched    placer
	mode     Mode
	workload policy.Workload
	// held is what each bound pod holds, by namespace/name.
	held map[string]contract.Allocation

	nodes   []trace.Node
	index   map[string]int // node name -> index into nodes
	states  []*state.NodeState
	cpuFree []int64
	frag    []float64 // F_n(M) in device units (percent of a GPU)
	pods    []int     // pods bound per node
	gone    []bool    // node removed (by the autoscaler)

	capacityMilli  int64
	allocatedMilli int64
	idleUnits      int64
	fragUnits      float64
}

// simOption changes how newSim configures the scheduler.
type simOption func(*simulate.Options)

// learnWorkload gives the plugin no workload, so that a policy that needs
// one uses the estimate it learns from the pods it sees, as a live
// scheduler without a configured workload does. The engine still measures
// fragmentation against the trace's workload.
func learnWorkload(o *simulate.Options) { o.Args.Workload = nil }

// withProfile runs the first profile of a KubeSchedulerConfiguration with
// every scorer it enables and its percentageOfNodesToScore, as a cluster
// runs it; the plugin's args still come from the run.
func withProfile(profile string) simOption {
	return func(o *simulate.Options) {
		o.Profile, o.KeepScorers = profile, true
	}
}

func (c Config) simOptions() []simOption {
	var opts []simOption
	if c.LearnedWorkload {
		opts = append(opts, learnWorkload)
	}
	if c.Profile != "" {
		opts = append(opts, withProfile(c.Profile))
	}
	return opts
}

// newSim builds the cluster from nodes, placing pods in mode. sortKeys
// gives each node's tie-break key (nil: its name).
func newSim(ctx context.Context, nodes []trace.Node, sortKeys map[string]string, pol policy.Type, seed int64, w policy.Workload, mode Mode, opts ...simOption) (*sim, error) {
	s := &sim{
		cluster:  simulate.NewCluster(),
		mode:     mode.orDefault(),
		held:     map[string]contract.Allocation{},
		workload: w,
		nodes:    slices.Clip(nodes), // addNode appends: never into the caller's (shared) array
		index:    make(map[string]int, len(nodes)),
		states:   make([]*state.NodeState, len(nodes)),
		cpuFree:  make([]int64, len(nodes)),
		frag:     make([]float64, len(nodes)),
		pods:     make([]int, len(nodes)),
		gone:     make([]bool, len(nodes)),
	}
	for i, n := range nodes {
		obj, err := NodeObject(n)
		if err != nil {
			return nil, err
		}
		s.cluster.AddNode(obj, sortKeys[n.Name])
		s.index[n.Name] = i
		s.states[i] = state.New(n.Name, "", Inventory(n))
		s.cpuFree[i] = n.CPUMilli
		s.capacityMilli += n.GPUMilli()
		s.idleUnits += int64(n.GPUs) * 100
		s.refresh(i)
	}
	args := &gantryconfig.DeviceShareArgs{
		Policy:                  pol,
		ZoneSpreadWeight:        0,
		WorkloadCoveragePercent: 95,
		Workload:                []policy.Shape(w),
		Seed:                    seed,
	}
	so := simulate.Options{Args: args}
	for _, o := range opts {
		o(&so)
	}
	if !s.mode.IsDRA() {
		sched, err := simulate.NewScheduler(ctx, s.cluster, so)
		if err != nil {
			return nil, err
		}
		s.sched = devicePlugin{sched}
		return s, nil
	}
	if so.Profile != "" {
		return nil, fmt.Errorf("mode %s runs its own profile; a scheduler configuration applies in mode %s only", s.mode, DevicePlugin)
	}
	ds, err := dramode.New(ctx, s.cluster, dramode.Options{Choice: draChoice(s.mode), Args: so.Args, Parallelism: so.Parallelism})
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		ds.AddNode(n.Name, Inventory(n))
	}
	s.sched = draPlacer{ds}
	return s, nil
}

// refresh recomputes node i's fragment and updates the cluster total.
func (s *sim) refresh(i int) {
	old := s.frag[i]
	if len(s.workload) == 0 {
		return
	}
	n := s.states[i]
	s.frag[i] = policy.Fragmentation(n, n.FreeVector(), s.cpuFree[i], s.workload)
	s.fragUnits += s.frag[i] - old
}

// placement is where one pod went.
type placement struct {
	node    string
	devices []int
	model   string
	alloc   contract.Allocation
}

// schedule runs one scheduling cycle for the trace pod and books the
// result. ok is false when the pod fits nowhere.
func (s *sim) schedule(ctx context.Context, p trace.Pod, obj *corev1.Pod) (placement, *corev1.Pod, bool, error) {
	node, bound, alloc, err := s.sched.place(ctx, obj)
	if err != nil || node == "" {
		return placement{}, nil, false, err
	}
	s.held[bound.Namespace+"/"+bound.Name] = alloc
	pl, err := s.book(p, bound, node, 1)
	return pl, bound, true, err
}

// book applies (sign 1) or reverts (sign -1) a bound pod on the engine's
// books, with what s.held says it holds.
func (s *sim) book(p trace.Pod, bound *corev1.Pod, node string, sign int) (placement, error) {
	i, ok := s.index[node]
	if !ok {
		return placement{}, fmt.Errorf("pod %s bound to unknown node %q", p.Name, node)
	}
	pl := placement{node: node, model: s.nodes[i].Model}
	key := bound.Namespace + "/" + bound.Name
	if p.NumGPU > 0 {
		a := s.held[key]
		if len(a.Containers) == 0 {
			return pl, fmt.Errorf("pod %s bound to %s without an allocation", p.Name, node)
		}
		pl.alloc = a
		units := 0
		for _, c := range a.Containers {
			for _, d := range c.Devices {
				pl.devices = append(pl.devices, d.Index)
				units += d.Units
			}
		}
		sort.Ints(pl.devices)
		if sign > 0 {
			if err := s.states[i].Assign(key, state.Holding{Allocation: a}); err != nil {
				return pl, err
			}
		} else {
			s.states[i].Release(key)
		}
		s.allocatedMilli += int64(sign) * int64(units) * trace.MilliPerPercent
		s.idleUnits -= int64(sign) * int64(units)
	}
	if sign < 0 {
		delete(s.held, key)
	}
	s.cpuFree[i] -= int64(sign) * p.CPUMilli
	s.pods[i] += sign
	s.refresh(i)
	return pl, nil
}

// addNode adds a node (an autoscaled one) to the cluster and the books.
func (s *sim) addNode(n trace.Node, obj *corev1.Node, st *state.NodeState) {
	i := len(s.nodes)
	s.nodes = append(s.nodes, n)
	s.index[n.Name] = i
	s.states = append(s.states, st)
	s.cpuFree = append(s.cpuFree, n.CPUMilli)
	s.frag = append(s.frag, 0)
	s.pods = append(s.pods, 0)
	s.gone = append(s.gone, false)
	s.cluster.AddNode(obj, "")
	s.capacityMilli += n.GPUMilli()
	s.idleUnits += int64(n.GPUs) * 100
	s.refresh(i)
}

// podsOn counts the pods bound to a node.
func (s *sim) podsOn(name string) int {
	if i, ok := s.index[name]; ok {
		return s.pods[i]
	}
	return 0
}

// removeNode removes an empty node from the cluster and the books.
func (s *sim) removeNode(name string) {
	i, ok := s.index[name]
	if !ok || s.gone[i] {
		return
	}
	s.cluster.RemoveNode(name)
	s.gone[i] = true
	delete(s.index, name)
	s.capacityMilli -= s.nodes[i].GPUMilli()
	s.idleUnits -= int64(s.nodes[i].GPUs) * 100
	s.fragUnits -= s.frag[i]
	s.frag[i] = 0
}

// unbind removes a bound pod from the cluster and the books.
func (s *sim) unbind(p trace.Pod, bound *corev1.Pod) error {
	if err := s.cluster.Unbind(bound); err != nil {
		return err
	}
	s.sched.release(bound)
	_, err := s.book(p, bound, bound.Spec.NodeName, -1)
	return err
}

// fragRatio is the cluster's fragmentation amount over its idle GPU.
func (s *sim) fragRatio() float64 {
	if s.idleUnits <= 0 {
		return 0
	}
	r := s.fragUnits / float64(s.idleUnits)
	if r < 0 {
		return 0
	}
	return r
}

// recomputeFrag recomputes the fragmentation amount from scratch (for tests).
func (s *sim) recomputeFrag() float64 {
	var f float64
	for i, n := range s.states {
		f += policy.Fragmentation(n, n.FreeVector(), s.cpuFree[i], s.workload)
	}
	return f
}
