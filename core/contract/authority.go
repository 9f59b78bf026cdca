package contract

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/device"
)

// ErrNotCounted is wrapped by every error that says why a pod's allocation
// record does not count; test for it with errors.Is.
var ErrNotCounted = errors.New("allocation record does not count")

// Authority decides which allocation records count in accounting. The
// scheduler, the autoscaler and inspect all ask [Authority.Counted], so a
// record one of them counts is counted by all, and a forged or stale record
// grants nothing and blocks nothing anywhere.
//
// The zero value is ready to use: Gantry's profiles are [SchedulerName] and
// every name starting with [ProfilePrefix], and records are decoded with
// [DecodeAllocation].
type Authority struct {
	// Profiles are scheduler names (spec.schedulerName) of Gantry profiles
	// beyond those every reader knows: SchedulerName and any name with
	// ProfilePrefix.
	Profiles []string
	// Decode decodes an annotation value; nil means DecodeAllocation. A
	// caching decoder must return what DecodeAllocation would.
	Decode func(value string) (Allocation, error)
}

// Counted returns the allocation record of pod that counts, and where it
// came from. A record counts only when
//
//   - the pod is bound (spec.nodeName) to the node the record names, and is
//     not terminal (Succeeded or Failed);
//   - for the scheduler's intent (gantry.dev/allocation): a Gantry profile
//     placed the pod (spec.schedulerName passes [Authority.IsProfile]); the node
//     agent's record (gantry.dev/allocated) is kubelet's own choice and
//     counts whatever scheduler bound the pod;
//   - it matches the pod's requests: each container holds exactly the
//     devices and units it asks for of each kind, and no container holds
//     anything it did not ask for.
//
// The agent's record is tried first, then the intent, as AllocationOf does.
// ok is false when no record counts; err then says why the records present
// were refused (it wraps ErrNotCounted, or names a malformed annotation).
// When the agent's record is refused and the intent counts, the intent is
// returned with ok true alongside that error, so the caller can log it.
func (au Authority) Counted(pod *corev1.Pod) (a Allocation, src Source, ok bool, err error) {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return Allocation{}, "", false, nil
	}
	decode := au.Decode
	if decode == nil {
		decode = DecodeAllocation
	}
	var refused error
	for _, c := range []struct {
		key string
		src Source
	}{{AnnotationAllocated, FromNode}, {AnnotationAllocation, FromScheduler}} {
		v, found := pod.Annotations[c.key]
		if !found {
			continue
		}
		a, derr := decode(v)
		if derr == nil {
			derr = au.check(pod, a, c.src)
		} else {
			derr = fmt.Errorf("invalid %s annotation: %w", c.key, derr)
		}
		if derr != nil {
			if refused == nil {
				refused = fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, derr)
			}
			continue
		}
		return a, c.src, true, refused
	}
	return Allocation{}, "", false, refused
}

// Intent returns the scheduler's intent (gantry.dev/allocation) of pod when
// it counts by the rules of [Authority.Counted], whatever the node agent has
// recorded: the agent serves the containers kubelet has not admitted yet
// from it. ok is false when the pod carries no intent that counts; err then
// says why the intent present was refused.
func (au Authority) Intent(pod *corev1.Pod) (a Allocation, ok bool, err error) {
	v, found := pod.Annotations[AnnotationAllocation]
	if !found || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return Allocation{}, false, nil
	}
	decode := au.Decode
	if decode == nil {
		decode = DecodeAllocation
	}
	if a, err = decode(v); err != nil {
		return Allocation{}, false, fmt.Errorf("pod %s/%s: invalid %s annotation: %w", pod.Namespace, pod.Name, AnnotationAllocation, err)
	}
	if err := au.check(pod, a, FromScheduler); err != nil {
		return Allocation{}, false, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return a, true, nil
}

// ProfilePrefix starts the name of every Gantry scheduler profile other
// than SchedulerName (e.g. gantry-bind), so that the scheduler, the
// autoscaler and inspect agree on them without sharing configuration.
const ProfilePrefix = "gantry-"

// IsProfile reports whether name is a Gantry profile.
func (au Authority) IsProfile(name string) bool {
	return name == SchedulerName || strings.HasPrefix(name, ProfilePrefix) || slices.Contains(au.Profiles, name)
}

// check says why a decoded record of src does not count for pod, or nil.
func (au Authority) check(pod *corev1.Pod, a Allocation, src Source) error {
	key := AnnotationAllocated
	if src == FromScheduler {
		key = AnnotationAllocation
	}
	switch {
	case pod.Spec.NodeName == "":
		return fmt.Errorf("%w: %s names node %q but the pod is not bound", ErrNotCounted, key, a.Node)
	case a.Node != pod.Spec.NodeName:
		return fmt.Errorf("%w: %s names node %q but the pod is bound to %q", ErrNotCounted, key, a.Node, pod.Spec.NodeName)
	case src == FromScheduler && !au.IsProfile(pod.Spec.SchedulerName):
		return fmt.Errorf("%w: %s is on a pod that no Gantry profile placed (schedulerName %q)", ErrNotCounted, key, pod.Spec.SchedulerName)
	}
	if err := matchesRequests(pod, a); err != nil {
		return fmt.Errorf("%w: %s does not match the pod's requests: %w", ErrNotCounted, key, err)
	}
	return nil
}

// matchesRequests checks that a gives each container of pod exactly what it
// asks for. It reads the requests itself (core/share imports this package):
// a value of 1..100 is one device with that many units, a multiple of 100
// that many whole devices; anything else matches no record.
func matchesRequests(pod *corev1.Pod, a Allocation) error {
	type key struct {
		container string
		kind      device.Kind
	}
	held := make(map[key]ContainerAllocation, len(a.Containers))
	for _, c := range a.Containers {
		held[key{c.Container, c.Kind}] = c
	}
	for _, c := range pod.Spec.Containers {
		for _, k := range device.Kinds {
			count, units, err := requested(c, k)
			if err != nil {
				return fmt.Errorf("container %q: %w", c.Name, err)
			}
			h, has := held[key{c.Name, k}]
			delete(held, key{c.Name, k})
			switch {
			case count == 0 && has:
				return fmt.Errorf("container %q holds %s devices but requests none", c.Name, k)
			case count == 0:
				continue
			case !has:
				return fmt.Errorf("container %q requests %s but holds none", c.Name, ResourceFor(k))
			case len(h.Devices) != count:
				return fmt.Errorf("container %q requests %d %s device(s) but holds %d", c.Name, count, k, len(h.Devices))
			}
			for _, d := range h.Devices {
				if d.Units != units {
					return fmt.Errorf("container %q requests %d units per %s device but holds %d of %q", c.Name, units, k, d.Units, d.ID)
				}
			}
		}
	}
	for _, c := range a.Containers {
		if _, left := held[key{c.Container, c.Kind}]; left {
			return fmt.Errorf("container %q holds %s devices but the pod has no such container", c.Container, c.Kind)
		}
	}
	return nil
}

// requested returns the devices and units per device that c asks of kind
// k: (0, 0) for none.
func requested(c corev1.Container, k device.Kind) (count, units int, err error) {
	name := ResourceFor(k)
	q, ok := c.Resources.Limits[name]
	if !ok {
		if q, ok = c.Resources.Requests[name]; !ok {
			return 0, 0, nil
		}
	}
	v, exact := q.AsInt64()
	switch {
	case !exact || v < 0:
		return 0, 0, fmt.Errorf("malformed %s %s", name, q.String())
	case v == 0:
		return 0, 0, nil
	case v <= device.UnitsPerDevice:
		return 1, int(v), nil
	case v%device.UnitsPerDevice != 0 || v/device.UnitsPerDevice > maxRequestDevices:
		return 0, 0, fmt.Errorf("malformed %s %d", name, v)
	default:
		return int(v / device.UnitsPerDevice), device.UnitsPerDevice, nil
	}
}

// maxRequestDevices matches share.MaxDevices.
const maxRequestDevices = 1024
