package simulate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"

	"github.com/gantry-dev/gantry/core/contract"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/deviceshare"
	"github.com/gantry-dev/gantry/scheduler/dra"
)

var registerMetrics sync.Once

// Scheduler places pods on a Cluster through a real framework.
type Scheduler struct {
	fw          framework.Framework
	cluster     *Cluster
	plugin      *deviceshare.DeviceShare
	parallelism int
	// percentage is the profile's percentageOfNodesToScore (0: adaptive)
	// and nextStart where the next cycle starts looking, as kube-scheduler
	// keeps it.
	percentage int32
	nextStart  int
	// dra is the DRA objects GantryDRA reads, nil without DRA.
	dra *dra.Memory
}

// Options configure a Scheduler.
type Options struct {
	// Profile is a KubeSchedulerConfiguration; DefaultProfile when empty.
	Profile string
	// Args are the plugin's decoded args; they override any pluginConfig
	// for GantryDeviceShare in Profile.
	Args *gantryconfig.DeviceShareArgs
	// Full keeps every plugin of the profile; by default Trim drops the
	// ones that cannot matter in a simulation.
	Full bool
	// Scorer is the one score plugin Trim keeps; GantryDeviceShare when
	// empty. Benchmarks set NodeResourcesFit to measure a stock baseline.
	Scorer string
	// KeepScorers trims only the plugins that cannot matter in a
	// simulation and keeps every scorer of the profile with its weight, so
	// that a shipped configuration scores as it does in a cluster.
	KeepScorers bool
	// DRA, when set, holds the ResourceSlices, DeviceClasses and
	// ResourceClaims of a cluster in DRA mode: the framework runs
	// GantryDRA (added to the profile when it lacks it, DynamicResources
	// disabled) on it, and the allocations GantryDRA reserves for a pod
	// are taken as made when the pod binds (DRA.Commit, where the
	// scheduler's PreBind would write the claims' status).
	DRA *dra.Memory
	// DRAChoice is which DRA plugin places claims in DRA mode (default
	// DRAGantry).
	DRAChoice DRAChoice
	// Parallelism is how many goroutines filter the nodes of one cycle
	// when the cluster has at least ParallelFilterMinNodes nodes, as
	// kube-scheduler filters in parallel; 0 or 1 filters one node at a
	// time. The outcome is the same either way.
	Parallelism int
}

// ParallelFilterMinNodes is the smallest cluster filtered in parallel.
const ParallelFilterMinNodes = 256

// NewScheduler builds the framework over cluster.
func NewScheduler(ctx context.Context, cluster *Cluster, o Options) (*Scheduler, error) {
	registerMetrics.Do(metrics.Register)
	if o.Profile == "" {
		o.Profile = DefaultProfile
	}
	profile, pct, err := loadProfile(o.Profile)
	if err != nil {
		return nil, err
	}
	if o.DRA != nil && o.DRAChoice != DRAStock {
		enableDRA(profile)
	} else {
		disableDRA(profile)
	}
	if o.Scorer == "" {
		o.Scorer = deviceshare.Name
	}
	switch {
	case o.Full:
	case o.KeepScorers:
		trimPlugins(profile)
	case o.DRA != nil && o.DRAChoice == DRAStock:
		trim(profile, o.Scorer, dynamicResources)
	case o.DRA != nil:
		trim(profile, o.Scorer, dra.Name)
	default:
		Trim(profile, o.Scorer)
	}
	s := &Scheduler{cluster: cluster, parallelism: o.Parallelism, percentage: pct, dra: o.DRA}
	registry := plugins.NewInTreeRegistry()
	if err := registry.Register(deviceshare.Name, func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
		args := o.Args
		if args == nil {
			var err error
			if args, err = decodeArgs(obj); err != nil {
				return nil, err
			}
		}
		pl, err := deviceshare.NewWithArgs(ctx, args, h, deviceshare.WithAllocationWriter(writeOnPod))
		s.plugin = pl
		return pl, err
	}); err != nil {
		return nil, err
	}
	fwOpts := []frameworkruntime.Option{
		frameworkruntime.WithSnapshotSharedLister(cluster),
		frameworkruntime.WithParallelism(1),
		frameworkruntime.WithPodNominator(nil),
	}
	if o.DRA != nil {
		if err := registerDRA(registry, o.Args, o.DRAChoice); err != nil {
			return nil, err
		}
		// The DRA plugin indexes pods of an informer for its queueing
		// hints; the simulation never starts it, nor calls the client.
		client := fake.NewClientset()
		fwOpts = append(fwOpts,
			frameworkruntime.WithSharedDRAManager(o.DRA),
			frameworkruntime.WithClientSet(client),
			frameworkruntime.WithInformerFactory(informers.NewSharedInformerFactory(client, 0)),
		)
	}
	fw, err := frameworkruntime.NewFramework(ctx, registry, profile, fwOpts...)
	if err != nil {
		return nil, fmt.Errorf("building the scheduling framework: %w", err)
	}
	s.fw = fw
	return s, nil
}

func decodeArgs(obj runtime.Object) (*gantryconfig.DeviceShareArgs, error) {
	pl, err := deviceshare.New(context.Background(), obj, nil)
	if err != nil {
		return nil, err
	}
	return pl.(*deviceshare.DeviceShare).Args(), nil
}

// writeOnPod records the allocation on the in-memory pod PreBind is given.
func writeOnPod(_ context.Context, pod *v1.Pod, value string) error {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[contract.AnnotationAllocation] = value
	return nil
}

// Plugin returns the GantryDeviceShare instance the framework runs.
func (s *Scheduler) Plugin() *deviceshare.DeviceShare { return s.plugin }

// Result is the outcome of scheduling one pod.
type Result struct {
	// Node is where the pod went; empty when it fits nowhere.
	Node string
	// Pod is the bound pod (with its allocation annotation), or nil.
	Pod *v1.Pod
	// Status says why the pod fits nowhere: every node's reason, counted.
	Status *fwk.Status
}

// Schedule runs one scheduling cycle for pod and, when a node fits, binds a
// copy of it there (the cluster changes). pod itself is not changed.
func (s *Scheduler) Schedule(ctx context.Context, pod *v1.Pod) Result {
	return s.schedule(ctx, pod, true)
}

// Rank runs filtering and scoring and returns the node pod would go to,
// without reserving or binding anything.
func (s *Scheduler) Rank(ctx context.Context, pod *v1.Pod) Result {
	return s.schedule(ctx, pod, false)
}

// Feasible reports the nodes pod fits on without placing it.
func (s *Scheduler) Feasible(ctx context.Context, pod *v1.Pod) ([]fwk.NodeInfo, *fwk.Status) {
	cs := framework.NewCycleState()
	feasible, st := s.filter(ctx, cs, pod)
	return feasible, st
}

func (s *Scheduler) filter(ctx context.Context, cs *framework.CycleState, pod *v1.Pod) ([]fwk.NodeInfo, *fwk.Status) {
	pre, st, _ := s.fw.RunPreFilterPlugins(ctx, cs, pod)
	if !st.IsSuccess() {
		return nil, st
	}
	nodes := s.cluster.Nodes()
	statuses := s.runFilters(ctx, cs, pod, pre, nodes)
	examined := s.sample(nodes, pre, statuses)
	var feasible []fwk.NodeInfo
	reasons := map[string]int{}
	code := fwk.UnschedulableAndUnresolvable
	for i, ni := range nodes {
		if !examined[i] {
			continue
		}
		st := statuses[i]
		if st.IsSuccess() {
			feasible = append(feasible, ni)
			continue
		}
		if st.Code() == fwk.Error {
			return nil, st
		}
		if st.Code() != fwk.UnschedulableAndUnresolvable {
			code = fwk.Unschedulable
		}
		for _, r := range st.Reasons() {
			reasons[r]++
		}
	}
	if len(feasible) == 0 {
		return nil, fwk.NewStatus(code, summarize(len(nodes), reasons))
	}
	return feasible, nil
}

// sample says which nodes this cycle looks at, as kube-scheduler's
// percentageOfNodesToScore has it: starting where the last cycle stopped,
// nodes in order until NodesToFind of them are feasible; the next cycle
// starts after the last node looked at. Kube-scheduler filters in parallel
// and may look at a few more; the simulation looks at exactly these. The
// sampled feasible nodes keep the cluster's tie-break order.
func (s *Scheduler) sample(nodes []fwk.NodeInfo, pre *fwk.PreFilterResult, statuses []*fwk.Status) []bool {
	examined := make([]bool, len(nodes))
	admitted := func(i int) bool {
		return pre == nil || pre.AllNodes() || pre.NodeNames.Has(nodes[i].Node().Name)
	}
	want := NodesToFind(s.percentage, len(nodes))
	if want >= len(nodes) {
		for i := range nodes {
			examined[i] = admitted(i)
		}
		return examined
	}
	found, looked := 0, 0
	for ; looked < len(nodes) && found < want; looked++ {
		i := (s.nextStart + looked) % len(nodes)
		if !admitted(i) {
			continue
		}
		examined[i] = true
		if statuses[i].IsSuccess() {
			found++
		}
	}
	s.nextStart = (s.nextStart + looked) % len(nodes)
	return examined
}

// runFilters runs the filter plugins on each node the PreFilter result
// admits, in parallel on large clusters; statuses[i] is nodes[i]'s.
func (s *Scheduler) runFilters(ctx context.Context, cs *framework.CycleState, pod *v1.Pod, pre *fwk.PreFilterResult, nodes []fwk.NodeInfo) []*fwk.Status {
	statuses := make([]*fwk.Status, len(nodes))
	run := func(i int) {
		ni := nodes[i]
		if pre != nil && !pre.AllNodes() && !pre.NodeNames.Has(ni.Node().Name) {
			return
		}
		statuses[i] = s.fw.RunFilterPlugins(ctx, cs, pod, ni)
	}
	workers := s.parallelism
	if workers <= 1 || len(nodes) < ParallelFilterMinNodes || (pre != nil && !pre.AllNodes() && pre.NodeNames.Len() < ParallelFilterMinNodes) {
		for i := range nodes {
			run(i)
		}
		return statuses
	}
	Striped(workers, len(nodes), func(_, i int) { run(i) })
	return statuses
}

// summarize writes reasons the way kube-scheduler's FitError does:
// "0/3 nodes are available: 2 node has no GPU, 1 ...".
func summarize(total int, reasons map[string]int) string {
	var parts []string
	for r, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return fmt.Sprintf("0/%d nodes are available: %s.", total, strings.Join(parts, ", "))
}

func (s *Scheduler) schedule(ctx context.Context, pod *v1.Pod, bind bool) Result {
	cs := framework.NewCycleState()
	feasible, st := s.filter(ctx, cs, pod)
	if st != nil {
		return Result{Status: st}
	}
	node := feasible[0].Node().Name
	if len(feasible) > 1 {
		if st := s.fw.RunPreScorePlugins(ctx, cs, pod, feasible); !st.IsSuccess() {
			return Result{Status: st}
		}
		scores, st := s.fw.RunScorePlugins(ctx, cs, pod, feasible)
		if !st.IsSuccess() {
			return Result{Status: st}
		}
		best := int64(-1)
		for _, sc := range scores { // feasible is in tie-break order; the first best wins
			if sc.TotalScore > best {
				best, node = sc.TotalScore, sc.Name
			}
		}
	}
	if !bind {
		return Result{Node: node}
	}
	bound := pod.DeepCopy()
	if st := s.fw.RunReservePluginsReserve(ctx, cs, bound, node); !st.IsSuccess() {
		s.fw.RunReservePluginsUnreserve(ctx, cs, bound, node)
		return Result{Status: st}
	}
	if st := s.fw.RunPreBindPlugins(ctx, cs, bound, node); !st.IsSuccess() {
		s.fw.RunReservePluginsUnreserve(ctx, cs, bound, node)
		return Result{Status: st}
	}
	bound.Spec.NodeName = node
	if err := s.cluster.Bind(bound); err != nil {
		s.fw.RunReservePluginsUnreserve(ctx, cs, bound, node)
		return Result{Status: fwk.AsStatus(err)}
	}
	if s.dra != nil {
		s.dra.Commit(bound)
	}
	// The bound pod carries its allocation: no reservation may outlive it
	// (the autoscaler takes what-if pods back, and the real pod with the
	// same UID may later be bound elsewhere).
	if s.plugin != nil {
		s.plugin.Forget(bound.UID)
	}
	return Result{Node: node, Pod: bound}
}
