package core

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/dynamic-resource-allocation/resourceclaim"

	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/autoscaler/utils/podutil"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
)

// draWorld is one loop's DRA objects, read when a node group is in DRA
// mode: the slices nodes' agents publish, the classes and the claims,
// and core's node states built from them (the same core/dra.Build that
// GantryDRA and inspect read).
type draWorld struct {
	slices  []*resourceapi.ResourceSlice
	classes map[string]*resourceapi.DeviceClass
	claims  map[string]*resourceapi.ResourceClaim // namespace/name
	cluster *coredra.Cluster
	// fingerprint changes whenever any of the objects does.
	fingerprint string
}

// observeDRA lists the DRA objects; the source must list them.
func (a *Autoscaler) observeDRA(ctx context.Context) (*draWorld, error) {
	l, ok := a.source.(source.DRALister)
	if !ok {
		return nil, fmt.Errorf("node groups in DRA mode need a source that lists ResourceSlices and ResourceClaims; %T does not", a.source)
	}
	slices, err := l.ResourceSlices(ctx)
	if err != nil {
		return nil, err
	}
	classes, err := l.DeviceClasses(ctx)
	if err != nil {
		return nil, err
	}
	claims, err := l.ResourceClaims(ctx)
	if err != nil {
		return nil, err
	}
	d := &draWorld{slices: slices, classes: map[string]*resourceapi.DeviceClass{}, claims: map[string]*resourceapi.ResourceClaim{}}
	var fp strings.Builder
	for _, s := range slices {
		fmt.Fprintf(&fp, "s %s %s %s;", s.Name, s.UID, s.ResourceVersion)
	}
	for _, c := range classes {
		d.classes[c.Name] = c
		fmt.Fprintf(&fp, "d %s %s %s;", c.Name, c.UID, c.ResourceVersion)
	}
	for _, c := range claims {
		d.claims[c.Namespace+"/"+c.Name] = c
		fmt.Fprintf(&fp, "c %s/%s %s %s;", c.Namespace, c.Name, c.UID, c.ResourceVersion)
	}
	d.fingerprint = fp.String()
	d.cluster = coredra.Build(slices, claims)
	return d, nil
}

// classList returns the classes.
func (d *draWorld) classList() []*resourceapi.DeviceClass {
	out := make([]*resourceapi.DeviceClass, 0, len(d.classes))
	for _, c := range d.classes {
		out = append(out, c)
	}
	return out
}

// claimList returns the claims.
func (d *draWorld) claimList() []*resourceapi.ResourceClaim {
	out := make([]*resourceapi.ResourceClaim, 0, len(d.claims))
	for _, c := range d.claims {
		out = append(out, c)
	}
	return out
}

// slicesOf returns the slices of devices local to the given nodes.
func (d *draWorld) slicesOf(nodes map[string]bool) []*resourceapi.ResourceSlice {
	var out []*resourceapi.ResourceSlice
	for _, s := range d.slices {
		if s.Spec.NodeName != nil && nodes[*s.Spec.NodeName] {
			out = append(out, s)
		}
	}
	return out
}

// node returns the node's Gantry DRA state when its agent publishes cards.
func (d *draWorld) node(name string) (*coredra.Node, bool) {
	if d == nil {
		return nil, false
	}
	n, ok := d.cluster.Nodes[name]
	return n, ok && len(n.State.Devices) > 0
}

// podClaims returns the claims pod uses that exist; a claim not yet
// created (its template's claim is made by the resourceclaim controller)
// is left out.
func (d *draWorld) podClaims(pod *corev1.Pod) []*resourceapi.ResourceClaim {
	var out []*resourceapi.ResourceClaim
	for i := range pod.Spec.ResourceClaims {
		name, _, err := resourceclaim.Name(pod, &pod.Spec.ResourceClaims[i])
		if err != nil || name == nil {
			continue
		}
		if c, ok := d.claims[pod.Namespace+"/"+*name]; ok {
			out = append(out, c)
		}
	}
	return out
}

func (d *draWorld) kindOf(class string) (device.Kind, bool) {
	return contract.KindOfDeviceClass(d.classes[class])
}

// units returns the device units a pod asks for, all kinds together:
// its gantry.dev resources and what its claims of Gantry classes ask,
// allocated or not (first-fit decreasing orders pods by it).
func (d *draWorld) units(pod *corev1.Pod) int {
	n := podutil.Units(pod)
	if d == nil || len(pod.Spec.ResourceClaims) == 0 {
		return n
	}
	var unallocated []*resourceapi.ResourceClaim
	for _, c := range d.podClaims(pod) {
		u := *c
		u.Status = resourceapi.ResourceClaimStatus{}
		unallocated = append(unallocated, &u)
	}
	req, err := coredra.RequestOf(podutil.Key(pod), unallocated, d.kindOf)
	if err != nil {
		return n
	}
	for _, k := range device.Kinds {
		n += req.Total(k)
	}
	return n
}

// utilization returns the share of a DRA node's cards that claims hold,
// consumed capacity counted (a card holding one 10 percent share is 10
// percent used), over every kind; ok is false for a node that publishes
// no Gantry card.
func (d *draWorld) utilization(node string) (float64, bool) {
	n, ok := d.node(node)
	if !ok {
		return 0, false
	}
	used, total := 0.0, 0
	for _, k := range device.Kinds {
		c := n.State.Capacity(k)
		used += coredra.Utilization(n, k) * float64(c)
		total += c
	}
	if total == 0 {
		return 0, false
	}
	return used / float64(total), true
}

// released returns the claims of pods that move off their node, as they
// would be once the pods are gone and the claims allocated afresh:
// unallocated and reserved for no one. A claim that also serves a pod
// staying elsewhere cannot move, and says why.
func (d *draWorld) released(pods []*corev1.Pod) ([]*resourceapi.ResourceClaim, string) {
	moving := map[string]bool{}
	for _, p := range pods {
		moving[string(p.UID)] = true
	}
	var out []*resourceapi.ResourceClaim
	for _, p := range pods {
		for _, c := range d.podClaims(p) {
			for _, r := range c.Status.ReservedFor {
				if r.Resource == "pods" && !moving[string(r.UID)] {
					return nil, fmt.Sprintf("ResourceClaim %s/%s of pod %s/%s is also reserved for pod %s, which stays", c.Namespace, c.Name, p.Namespace, p.Name, r.Name)
				}
			}
			u := c.DeepCopy()
			u.Status = resourceapi.ResourceClaimStatus{}
			out = append(out, u)
		}
	}
	return out, ""
}
