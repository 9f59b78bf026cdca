package dra

import (
	"context"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/dynamic-resource-allocation/resourceclaim"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

const stateKey fwk.StateKey = "PreFilter" + Name

// cycleState is what PreFilter learnt about the pod: its Gantry request and,
// per node, the strategy's raw score for it.
type cycleState struct {
	req *share.Request
	// scored is true when the strategy scores the pod: it asks Gantry
	// devices, or no device at all (where such a pod goes decides which
	// nodes keep host CPU for the device requests to come, as in
	// device-plugin mode). Pods with other drivers' claims alone get
	// upstream's score.
	scored bool
	scores map[string]int64
}

// Clone returns the state itself: it is not changed after PreFilter.
func (s *cycleState) Clone() fwk.StateData { return s }

func getCycleState(cs fwk.CycleState) (*cycleState, error) {
	d, err := cs.Read(stateKey)
	if err != nil {
		return nil, fmt.Errorf("reading %q from cycle state: %w", stateKey, err)
	}
	s, ok := d.(*cycleState)
	if !ok {
		return nil, fmt.Errorf("%+v convert to dra.cycleState error: got %T", d, d)
	}
	return s, nil
}

// PreFilter ranks every node's Gantry cards for the pod, then runs
// upstream's PreFilter, which builds its allocator from the ranked view.
func (pl *GantryDRA) PreFilter(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, nodes []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	logger := klog.FromContext(ctx)
	s := &cycleState{req: &share.Request{}}
	cs.Write(stateKey, s)
	req, err := pl.requestOf(pod)
	if err != nil {
		var invalid *coredra.InvalidClaimError
		if errors.As(err, &invalid) {
			return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, err.Error())
		}
		return nil, fwk.AsStatus(err)
	}
	s.req = req
	s.scored = !req.Empty() || len(pod.Spec.ResourceClaims) == 0
	if !s.scored {
		return pl.DynamicResources.PreFilter(ctx, cs, pod, nodes)
	}
	order, err := pl.rank(ctx, s, nodes)
	if err != nil {
		return nil, fwk.AsStatus(err)
	}
	if pl.noOrder || req.Empty() {
		return pl.DynamicResources.PreFilter(ctx, cs, pod, nodes)
	}
	pl.cycle.Lock()
	defer pl.cycle.Unlock()
	pl.view.set(order)
	defer pl.view.set(nil)
	logger.V(4).Info("Ranked Gantry devices", "pod", klog.KObj(pod), "nodes", len(order), "parts", len(req.Parts))
	return pl.DynamicResources.PreFilter(ctx, cs, pod, nodes)
}

// requestOf reads the pod's claims as a Gantry request. Claims that do not
// exist yet are left to upstream, which reports them.
func (pl *GantryDRA) requestOf(pod *v1.Pod) (*share.Request, error) {
	var claims []*resourceapi.ResourceClaim
	for i := range pod.Spec.ResourceClaims {
		name, _, err := resourceclaim.Name(pod, &pod.Spec.ResourceClaims[i])
		if err != nil || name == nil {
			continue
		}
		c, err := pl.draManager.ResourceClaims().Get(pod.Namespace, *name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("getting ResourceClaim %s/%s: %w", pod.Namespace, *name, err)
		}
		claims = append(claims, c)
	}
	return coredra.RequestOfPod(pod, claims, pl.kindOf)
}

// rank builds every node's state from slices and claims (in-flight
// allocations included) and returns, per node in nodes, its Gantry devices
// in the strategy's order; it records the strategy's score in s for every
// node where the request fits (a node without Gantry devices has an empty
// state, as in device-plugin mode).
func (pl *GantryDRA) rank(ctx context.Context, s *cycleState, nodes []fwk.NodeInfo) (map[string][]string, error) {
	slices, err := pl.draManager.ResourceSlices().ListWithDeviceTaintRules()
	if err != nil {
		return nil, fmt.Errorf("listing ResourceSlices: %w", err)
	}
	claims, err := pl.draManager.ResourceClaims().List()
	if err != nil {
		return nil, fmt.Errorf("listing ResourceClaims: %w", err)
	}
	cluster := coredra.Build(slices, claims)
	logger := klog.FromContext(ctx)
	if len(cluster.Problems) > 0 {
		if loggerV := logger.V(4); loggerV.Enabled() {
			for _, p := range cluster.Problems {
				loggerV.Info("Ignoring unreadable DRA data", "err", p)
			}
		}
	}
	order := make(map[string][]string, len(cluster.Nodes))
	s.scores = make(map[string]int64, len(cluster.Nodes))
	reqKey := requestKey(s.req)
	for _, ni := range nodes {
		node := ni.Node()
		n, ok := cluster.Nodes[node.Name]
		if !ok {
			n = coredra.EmptyNode(node.Name)
		}
		st := withHost(n.State, ni)
		r := pl.memo.get(reqKey, n, st, func() ranked {
			var r ranked
			if _, score, ok := pl.strategy.Score(st, s.req); ok {
				r.score, r.fits = score, true
			}
			if s.req.Empty() || len(st.Devices) == 0 {
				return r
			}
			idx := coredra.DeviceOrder(st, s.req, pl.strategy)
			r.order = make([]string, len(idx))
			for i, j := range idx {
				r.order[i] = n.DeviceName(j)
			}
			return r
		})
		if r.fits {
			s.scores[node.Name] = r.score
		}
		names := r.order
		if len(names) == 0 {
			continue
		}
		order[node.Name] = names
		logger.V(5).Info("Device order", "node", klog.KObj(node), "order", names, "score", s.scores[node.Name], "free", st.FreeVector())
	}
	return order, nil
}

// withHost returns a shallow copy of st with the node's zone and the host
// CPU and memory ni has left, for strategies that weigh them.
func withHost(st *state.NodeState, ni fwk.NodeInfo) *state.NodeState {
	c := *st
	c.Zone = ni.Node().Labels[v1.LabelTopologyZone]
	alloc, req := ni.GetAllocatable(), ni.GetRequested()
	c.CPUAllocMilli = alloc.GetMilliCPU()
	c.CPUFreeMilli = alloc.GetMilliCPU() - req.GetMilliCPU()
	c.MemoryFreeMiB = (alloc.GetMemory() - req.GetMemory()) >> 20
	return &c
}
