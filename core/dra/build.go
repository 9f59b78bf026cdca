package dra

import (
	"fmt"
	"sort"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/state"
)

// Node is one node's Gantry DRA devices and the shares claims hold on them.
type Node struct {
	// State is the node's device state; its devices are in index order.
	State *state.NodeState
	// Pool is the name of the driver's resource pool on the node.
	Pool string
	// names holds the DRA device name of each of State.Devices.
	names []string
}

// EmptyNode returns a node that publishes no Gantry device.
func EmptyNode(name string) *Node {
	return &Node{State: state.New(name, "", device.Inventory{})}
}

// DeviceName returns the name in the ResourceSlice of State.Devices[i].
func (n *Node) DeviceName(i int) string { return n.names[i] }

// DeviceIndex returns the position in State.Devices of the device named
// name in the slice, or -1.
func (n *Node) DeviceIndex(name string) int {
	for i, nm := range n.names {
		if nm == name {
			return i
		}
	}
	return -1
}

// Cluster is every node that publishes Gantry DRA devices.
type Cluster struct {
	Nodes map[string]*Node
	// Problems lists the devices, pools and claim results that could not be
	// read or counted, each naming its object. What they publish or hold is
	// left out: a broken record grants nothing.
	Problems []error
}

// HolderKey is the key under which a claim's shares are held in a
// NodeState: "claim:<namespace>/<name>", so claims never collide with pods.
func HolderKey(c *resourceapi.ResourceClaim) string {
	return "claim:" + c.Namespace + "/" + c.Name
}

// Build reads the ResourceSlices of contract.DRADriver that name a node, and
// the allocations of claims, into node states. Only the newest generation
// of each pool counts; slices of other drivers, and results for other
// drivers' devices, are ignored. A claim whose allocation is not recorded
// in its status, but is about to be (the scheduler's in-flight allocations),
// should be passed with the allocation filled in.
func Build(slices []*resourceapi.ResourceSlice, claims []*resourceapi.ResourceClaim) *Cluster {
	c := &Cluster{Nodes: map[string]*Node{}}
	newest := map[string][]*resourceapi.ResourceSlice{}
	for _, s := range slices {
		if s.Spec.Driver != contract.DRADriver {
			continue
		}
		node := ptr.Deref(s.Spec.NodeName, "")
		if node == "" {
			c.Problems = append(c.Problems, fmt.Errorf("ResourceSlice %s: driver %s publishes node-local devices only, but the slice names no node", s.Name, contract.DRADriver))
			continue
		}
		cur := newest[s.Spec.Pool.Name]
		switch {
		case len(cur) == 0 || s.Spec.Pool.Generation > cur[0].Spec.Pool.Generation:
			newest[s.Spec.Pool.Name] = []*resourceapi.ResourceSlice{s}
		case s.Spec.Pool.Generation == cur[0].Spec.Pool.Generation:
			newest[s.Spec.Pool.Name] = append(cur, s)
		}
	}
	pools := make([]string, 0, len(newest))
	for p := range newest {
		pools = append(pools, p)
	}
	sort.Strings(pools)
	byPool := map[string]*Node{}
	for _, pool := range pools {
		n, problems, err := buildNode(pool, newest[pool])
		c.Problems = append(c.Problems, problems...)
		if err != nil {
			c.Problems = append(c.Problems, err)
			continue
		}
		if _, dup := c.Nodes[n.State.Name]; dup {
			c.Problems = append(c.Problems, fmt.Errorf("node %q: driver %s publishes more than one pool there; pool %q ignored", n.State.Name, contract.DRADriver, pool))
			continue
		}
		c.Nodes[n.State.Name] = n
		byPool[pool] = n
	}
	for _, cl := range claims {
		c.hold(byPool, cl)
	}
	return c
}

// buildNode reads one pool. Devices that cannot be read are left out and
// reported in problems; err says the pool as a whole cannot be used.
func buildNode(pool string, slices []*resourceapi.ResourceSlice) (n *Node, problems []error, err error) {
	sort.Slice(slices, func(i, j int) bool { return slices[i].Name < slices[j].Name })
	node := ptr.Deref(slices[0].Spec.NodeName, "")
	var inv device.Inventory
	byID := map[string]string{}
	for _, s := range slices {
		if other := ptr.Deref(s.Spec.NodeName, ""); other != node {
			return nil, problems, fmt.Errorf("pool %q of driver %s: slices %s and %s name different nodes (%q, %q)", pool, contract.DRADriver, slices[0].Name, s.Name, node, other)
		}
		for _, rd := range s.Spec.Devices {
			d, err := contract.DeviceFromDRA(rd)
			if err != nil {
				problems = append(problems, fmt.Errorf("ResourceSlice %s: %w", s.Name, err))
				continue
			}
			inv.Devices = append(inv.Devices, d)
			byID[d.ID] = rd.Name
		}
	}
	if err := inv.Validate(); err != nil {
		return nil, problems, fmt.Errorf("pool %q of driver %s on node %q: %w", pool, contract.DRADriver, node, err)
	}
	st := state.New(node, "", inv)
	n = &Node{State: st, Pool: pool, names: make([]string, len(st.Devices))}
	for i := range st.Devices {
		n.names[i] = byID[st.Devices[i].ID]
	}
	return n, problems, nil
}

// hold records the shares an allocated claim holds on Gantry devices.
func (c *Cluster) hold(byPool map[string]*Node, cl *resourceapi.ResourceClaim) {
	if cl.Status.Allocation == nil {
		return
	}
	type key struct {
		request string
		kind    device.Kind
	}
	perNode := map[*Node]map[key]*contract.ContainerAllocation{}
	var order []*Node
	for _, r := range cl.Status.Allocation.Devices.Results {
		if r.Driver != contract.DRADriver {
			continue
		}
		n, ok := byPool[r.Pool]
		if !ok {
			c.Problems = append(c.Problems, fmt.Errorf("ResourceClaim %s/%s: request %q holds device %q of unknown pool %q", cl.Namespace, cl.Name, r.Request, r.Device, r.Pool))
			continue
		}
		i := n.DeviceIndex(r.Device)
		if i < 0 {
			c.Problems = append(c.Problems, fmt.Errorf("ResourceClaim %s/%s: request %q holds device %q that pool %q does not publish", cl.Namespace, cl.Name, r.Request, r.Device, r.Pool))
			continue
		}
		units, err := contract.DRAUnits(r)
		if err != nil {
			c.Problems = append(c.Problems, fmt.Errorf("ResourceClaim %s/%s: %w", cl.Namespace, cl.Name, err))
			continue
		}
		d := n.State.Devices[i]
		if perNode[n] == nil {
			perNode[n] = map[key]*contract.ContainerAllocation{}
			order = append(order, n)
		}
		k := key{r.Request, d.Kind}
		ca := perNode[n][k]
		if ca == nil {
			ca = &contract.ContainerAllocation{Container: r.Request, Kind: d.Kind}
			perNode[n][k] = ca
		}
		merged := false
		for j := range ca.Devices {
			if ca.Devices[j].ID == d.ID {
				ca.Devices[j].Units = min(ca.Devices[j].Units+units, device.UnitsPerDevice)
				merged = true
			}
		}
		if !merged {
			ca.Devices = append(ca.Devices, contract.DeviceShare{ID: d.ID, Index: d.Index, Units: units})
		}
	}
	for _, n := range order {
		a := contract.Allocation{Node: n.State.Name}
		for _, ca := range perNode[n] {
			a.Containers = append(a.Containers, *ca)
		}
		sort.Slice(a.Containers, func(i, j int) bool {
			if a.Containers[i].Container != a.Containers[j].Container {
				return a.Containers[i].Container < a.Containers[j].Container
			}
			return a.Containers[i].Kind < a.Containers[j].Kind
		})
		if err := n.State.Assign(HolderKey(cl), state.Holding{Allocation: a}); err != nil {
			c.Problems = append(c.Problems, fmt.Errorf("ResourceClaim %s/%s: %w", cl.Namespace, cl.Name, err))
		}
	}
}
