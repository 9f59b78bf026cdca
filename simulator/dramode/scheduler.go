package dramode

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
	scheddra "github.com/gantry-dev/gantry/scheduler/dra"
	"github.com/gantry-dev/gantry/scheduler/simulate"
)

// Options configure a Scheduler.
type Options struct {
	// Choice is the DRA plugin that places the claims.
	Choice simulate.DRAChoice
	// Args are the policy's (GantryDRA's args); simulate.DRAStock ignores
	// them.
	Args *gantryconfig.DeviceShareArgs
	// Parallelism: as simulate.Options.Parallelism.
	Parallelism int
}

// Scheduler places pods in DRA mode on a simulate.Cluster.
type Scheduler struct {
	sched *simulate.Scheduler
	mem   *scheddra.Memory
	// cards maps a node (its pool) and a device name to the card.
	cards map[string]map[string]device.Device
}

// New builds a Scheduler over cluster, with Gantry's DeviceClasses and no
// slices yet: publish each node's cards with AddNode.
func New(ctx context.Context, cluster *simulate.Cluster, o Options) (*Scheduler, error) {
	s := &Scheduler{mem: scheddra.NewMemory(), cards: map[string]map[string]device.Device{}}
	for _, k := range device.Kinds {
		s.mem.AddClass(DeviceClass(k))
	}
	so := simulate.Options{Args: o.Args, Parallelism: o.Parallelism, DRA: s.mem, DRAChoice: o.Choice, Profile: profile, Scorer: scheddra.Name}
	if o.Choice == simulate.DRAStock {
		so.Scorer = simulate.StockDRA
	}
	sched, err := simulate.NewScheduler(ctx, cluster, so)
	if err != nil {
		return nil, fmt.Errorf("DRA mode: %w", err)
	}
	s.sched = sched
	return s, nil
}

// AddNode publishes a node's cards as its agent's DRA driver does: one
// ResourceSlice, one device per card. A node without cards publishes none.
func (s *Scheduler) AddNode(node string, inv device.Inventory) {
	if len(inv.Devices) == 0 {
		return
	}
	s.mem.AddSlice(coredra.TemplateSlice(node, inv))
	byName := make(map[string]device.Device, len(inv.Devices))
	for _, d := range inv.Devices {
		byName[contract.DRADeviceName(d)] = d
	}
	s.cards[node] = byName
}

// Result is the outcome of scheduling one pod.
type Result struct {
	// Node is where the pod went; empty when it fits nowhere.
	Node string
	// Pod is the bound pod in DRA form, or nil.
	Pod *corev1.Pod
	// Allocation is what the pod's claim was allocated, as the cards'
	// shares (no containers for a pod without a claim).
	Allocation contract.Allocation
	// Status says why the pod fits nowhere.
	Status *fwk.Status
}

// Schedule turns pod (device-plugin form) into its DRA form and claims
// (Claimed), and runs one scheduling cycle; when a node fits, the pod is
// bound there and its claims hold their allocations. When none fits, the
// claims are deleted again. pod itself is not changed.
func (s *Scheduler) Schedule(ctx context.Context, pod *corev1.Pod) (Result, error) {
	dpod, claims, err := Claimed(pod)
	if err != nil {
		return Result{}, err
	}
	for _, c := range claims {
		s.mem.AddClaim(c.ResourceClaim)
	}
	res := s.sched.Schedule(ctx, dpod)
	if res.Node == "" {
		for _, c := range claims {
			s.mem.DeleteClaim(c.Namespace, c.Name)
		}
		if res.Status != nil && res.Status.Code() == fwk.Error {
			return Result{}, fmt.Errorf("scheduling pod %s/%s: %w", pod.Namespace, pod.Name, res.Status.AsError())
		}
		return Result{Status: res.Status}, nil
	}
	out := Result{Node: res.Node, Pod: res.Pod, Allocation: contract.Allocation{Node: res.Node}}
	for _, c := range claims {
		held, ok := s.mem.Claim(c.Namespace, c.Name)
		if !ok || held.Status.Allocation == nil {
			return Result{}, fmt.Errorf("pod %s/%s bound to %s, but its claim %s holds no allocation", pod.Namespace, pod.Name, res.Node, c.Name)
		}
		ca, err := s.allocation(res.Node, c.Container, held)
		if err != nil {
			return Result{}, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		out.Allocation.Containers = append(out.Allocation.Containers, ca)
	}
	return out, out.Allocation.Validate()
}

// allocation reads an allocated claim as the shares the container holds,
// devices by index.
func (s *Scheduler) allocation(node, container string, c *resourceapi.ResourceClaim) (contract.ContainerAllocation, error) {
	a := contract.ContainerAllocation{Container: container}
	for _, r := range c.Status.Allocation.Devices.Results {
		if r.Driver != contract.DRADriver {
			continue
		}
		if r.Pool != node {
			return a, fmt.Errorf("claim %s/%s holds %s of pool %s, not of its node %s", c.Namespace, c.Name, r.Device, r.Pool, node)
		}
		d, ok := s.cards[r.Pool][r.Device]
		if !ok {
			return a, fmt.Errorf("claim %s/%s holds unknown device %s/%s", c.Namespace, c.Name, r.Pool, r.Device)
		}
		u, err := contract.DRAUnits(r)
		if err != nil {
			return a, fmt.Errorf("claim %s/%s: %w", c.Namespace, c.Name, err)
		}
		a.Kind = d.Kind
		a.Devices = append(a.Devices, contract.DeviceShare{ID: d.ID, Index: d.Index, Units: u})
	}
	sort.Slice(a.Devices, func(i, j int) bool { return a.Devices[i].Index < a.Devices[j].Index })
	return a, nil
}

// Release deletes a departed pod's claims, which frees what they held. The
// caller unbinds the pod from the cluster.
func (s *Scheduler) Release(bound *corev1.Pod) {
	for _, st := range bound.Status.ResourceClaimStatuses {
		if st.ResourceClaimName != nil {
			s.mem.DeleteClaim(bound.Namespace, *st.ResourceClaimName)
		}
	}
}

// profile is the profile every choice runs: the plugins a stock profile
// applies to trace pods, the DRA plugin as the only scorer, on every node,
// as device-plugin mode runs (simulate.DefaultProfile).
const profile = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: gantry-scheduler
    percentageOfNodesToScore: 100
`
