package deviceshare

import (
	"errors"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// nodeCache memoises each node's device state per NodeInfo generation and
// remembers the allocations reserved but not yet visible on the pods.
type nodeCache struct {
	mu      sync.RWMutex
	nodes   map[string]*nodeEntry
	assumed map[types.UID]reservation
	// seq numbers reservations, to sweep those whose pod vanished.
	seq uint64
}

// reservation is an allocation chosen in Reserve and not yet seen on the pod.
type reservation struct {
	alloc contract.Allocation
	seq   uint64
}

// maxReservations bounds the reservations kept. A reservation lives from
// Reserve until a cycle sees the pod carry its allocation (or Unreserve);
// one whose pod was deleted before that is swept once the map is full and
// it is half that many reservations old, far beyond any bind. Sweeping
// frees half the map, so its cost is spread over as many reservations.
const maxReservations = 20000

type nodeEntry struct {
	generation int64
	inventory  string
	inv        device.Inventory
	invErr     error
	state      *state.NodeState
	// skipped lists pods whose records could not be applied, for logs.
	skipped []skippedPod

	// memo holds strategy results for this generation of the node: a new
	// generation gets a new entry, so stale results cannot be read.
	mu   sync.Mutex
	memo map[memoKey]memoValue
}

type memoKey struct {
	request          string
	cpuFree, memFree int64
	strategy         uint64
}

type memoValue struct {
	alloc contract.Allocation
	score int64
	ok    bool
}

// scored returns the memoised result for k, or computes and keeps it.
func (e *nodeEntry) scored(k memoKey, compute func() memoValue) memoValue {
	e.mu.Lock()
	v, ok := e.memo[k]
	e.mu.Unlock()
	if ok {
		return v
	}
	v = compute()
	e.mu.Lock()
	if e.memo == nil {
		e.memo = map[memoKey]memoValue{}
	}
	if len(e.memo) < maxMemo {
		e.memo[k] = v
	}
	e.mu.Unlock()
	return v
}

// maxMemo bounds the results kept per node generation.
const maxMemo = 256

type skippedPod struct {
	pod *corev1.Pod
	err error
}

func newNodeCache() *nodeCache {
	return &nodeCache{nodes: map[string]*nodeEntry{}, assumed: map[types.UID]reservation{}}
}

// stateFor returns the device state of the node in ni. The state is shared
// and must not be changed; Clone it first. A node whose inventory annotation
// is malformed yields a *contract.InvalidInventoryError; a node with no
// inventory yields a state without devices.
func (c *nodeCache) stateFor(ni fwk.NodeInfo) (*state.NodeState, []skippedPod, error) {
	e, err := c.entry(ni)
	if err != nil {
		return nil, nil, err
	}
	return e.state, e.skipped, e.invErr
}

// entry returns the node's memo entry for ni's generation.
func (c *nodeCache) entry(ni fwk.NodeInfo) (*nodeEntry, error) {
	node := ni.Node()
	if node == nil {
		return nil, errors.New("node not found")
	}
	gen := ni.GetGeneration()
	raw := node.Annotations[contract.AnnotationInventory]
	c.mu.RLock()
	e := c.nodes[node.Name]
	c.mu.RUnlock()
	if e != nil && e.generation == gen && e.inventory == raw {
		return e, nil
	}

	ne := &nodeEntry{generation: gen, inventory: raw}
	if e != nil && e.inventory == raw {
		ne.inv, ne.invErr = e.inv, e.invErr
	} else {
		ne.inv, ne.invErr = contract.InventoryOf(node)
		if errors.Is(ne.invErr, contract.ErrNoInventory) {
			ne.invErr = nil
		}
	}
	if ne.invErr == nil {
		ne.state, ne.skipped = c.build(node, ne.inv, ni.GetPods())
	}
	c.mu.Lock()
	c.nodes[node.Name] = ne
	c.mu.Unlock()
	return ne, nil
}

// build applies the allocation of every pod on the node that counts
// (contract.Authority): the node agent's record first, then the scheduler's
// annotation, then a reservation of this scheduler that is not on the pod
// yet.
func (c *nodeCache) build(node *corev1.Node, inv device.Inventory, pods []fwk.PodInfo) (*state.NodeState, []skippedPod) {
	st := state.New(node.Name, node.Labels[corev1.LabelTopologyZone], inv)
	var skipped []skippedPod
	var confirmed []types.UID
	authority := profiles.authority()
	c.mu.RLock()
	for _, pi := range pods {
		pod := pi.GetPod()
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		// Only a record its writer had the authority for, on a pod bound
		// here, that matches the pod's requests counts: a forged or stale
		// one grants nothing and blocks nothing.
		alloc, src, ok, err := authority.Counted(pod)
		if err != nil {
			skipped = append(skipped, skippedPod{pod: pod, err: err})
		}
		if ok && alloc.Node != node.Name {
			// A record for another node: stale or forged, never ours.
			ok = false
		}
		if r, held := c.assumed[pod.UID]; held && r.alloc.Node == node.Name {
			switch {
			case ok && (src == contract.FromNode || sameAllocation(alloc, r.alloc)):
				// The pod carries its allocation (or kubelet's record of
				// it) now: the reservation has done its job.
				confirmed = append(confirmed, pod.UID)
			default:
				// Not written yet, or a stale intent left by an earlier
				// attempt whose Bind failed: this cycle's choice counts.
				alloc, ok = r.alloc, true
			}
		}
		if !ok {
			continue
		}
		if err := st.Assign(string(pod.UID), state.Holding{Allocation: alloc, Workload: share.WorkloadOf(pod)}); err != nil {
			skipped = append(skipped, skippedPod{pod: pod, err: err})
		}
	}
	c.mu.RUnlock()
	if len(confirmed) > 0 {
		c.mu.Lock()
		for _, uid := range confirmed {
			delete(c.assumed, uid)
		}
		c.mu.Unlock()
	}
	return st, skipped
}

// assume remembers a reservation until the pod carries it.
func (c *nodeCache) assume(uid types.UID, alloc contract.Allocation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.assumed[uid] = reservation{alloc: alloc, seq: c.seq}
	if len(c.assumed) > maxReservations {
		for id, r := range c.assumed {
			if c.seq-r.seq >= maxReservations/2 {
				delete(c.assumed, id)
			}
		}
	}
}

// forget drops a reservation.
func (c *nodeCache) forget(uid types.UID) {
	c.mu.Lock()
	delete(c.assumed, uid)
	c.mu.Unlock()
}

// sameAllocation reports whether two allocations name the same shares.
func sameAllocation(a, b contract.Allocation) bool {
	x, errA := contract.EncodeAllocation(a)
	y, errB := contract.EncodeAllocation(b)
	return errA == nil && errB == nil && x == y
}

// forgetNodesExcept drops the memo of nodes that are not in live, once the
// memo holds more than twice as many nodes (nodes come and go with the
// autoscaler; their entries must not pile up).
func (c *nodeCache) forgetNodesExcept(live []fwk.NodeInfo) {
	c.mu.RLock()
	n := len(c.nodes)
	c.mu.RUnlock()
	if n <= 2*len(live)+16 {
		return
	}
	keep := make(map[string]bool, len(live))
	for _, ni := range live {
		if node := ni.Node(); node != nil {
			keep[node.Name] = true
		}
	}
	c.mu.Lock()
	for name := range c.nodes {
		if !keep[name] {
			delete(c.nodes, name)
		}
	}
	c.mu.Unlock()
}
