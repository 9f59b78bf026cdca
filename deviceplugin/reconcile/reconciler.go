package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
	"github.com/gantry-dev/gantry/deviceplugin/podresources"
)

// Event reasons.
const (
	ReasonAllocationDiffers = "AllocationDiffers"
	ReasonRecordRemoved     = "AllocationRecordRemoved"
	ReasonIntentRemoved     = "AllocationIntentRemoved"
)

// FieldManager is the field manager of the reconciler's patches.
const FieldManager = "gantry-device-plugin"

// Source is the node's current inventory, for device indices.
type Source interface {
	Snapshot() (device.Inventory, <-chan struct{})
}

// Reconciler writes gantry.dev/allocated from kubelet's PodResources API,
// and removes a gantry.dev/allocation intent from a pod kubelet admitted
// without any Gantry device (a forged or stale intent).
type Reconciler struct {
	Client       kubernetes.Interface
	Node         string
	Pods         corelisters.PodLister
	PodResources podresources.Lister
	Devices      Source
	// Recorder, if set, receives events about misses and removed records.
	Recorder record.EventRecorder
	// Interval between full passes. Default 10s.
	Interval time.Duration
	// Delay after a Trigger before the pass, so that kubelet has stored
	// the allocation it just made. Default 250ms.
	Delay   time.Duration
	Metrics *metrics.Metrics

	once    sync.Once
	trigger chan struct{}

	// mu guards exported: the labels of each card's allocation series.
	mu       sync.Mutex
	exported map[string][3]string
}

// Result counts what one pass did.
type Result struct {
	Recorded int
	Removed  int
	Misses   int
	Errors   int
}

// RunOnce makes one pass over the pods bound to the node.
func (r *Reconciler) RunOnce(ctx context.Context) (Result, error) {
	logger := klog.FromContext(ctx)
	var res Result
	resp, err := r.PodResources.List(ctx)
	if err != nil {
		return res, fmt.Errorf("listing pod resources from kubelet: %w", err)
	}
	snap := podresources.NewSnapshot(resp)
	inv, _ := r.Devices.Snapshot()
	r.exportAllocated(snap, inv)
	pods, err := r.Pods.List(labels.Everything())
	if err != nil {
		return res, fmt.Errorf("listing pods: %w", err)
	}
	for _, pod := range pods {
		if pod.Spec.NodeName != r.Node {
			continue
		}
		want, held, ok := r.desired(ctx, snap, pod, inv)
		if !ok {
			continue
		}
		cur, has := pod.Annotations[contract.AnnotationAllocated]
		// An intent on a pod kubelet admitted without any Gantry device is
		// forged or stale: it would hold cards nobody uses.
		_, hasIntent := pod.Annotations[contract.AnnotationAllocation]
		dropIntent := !held && hasIntent && snap.Listed(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
		if !dropIntent && ((held && has && cur == want) || (!held && !has)) {
			continue
		}
		if err := r.patch(ctx, pod, held, want, dropIntent); err != nil {
			res.Errors++
			logger.Error(err, "Recording allocation failed", "pod", klog.KObj(pod))
			continue
		}
		if dropIntent {
			r.event(pod, corev1.EventTypeWarning, ReasonIntentRemoved,
				"removed %s: kubelet admitted this pod without any Gantry device, so the intent holds nothing", contract.AnnotationAllocation)
		}
		if !held {
			res.Removed++
			if has {
				r.event(pod, corev1.EventTypeWarning, ReasonRecordRemoved,
					"removed %s: kubelet has not given this pod any Gantry device, so the record was not written by the node agent", contract.AnnotationAllocated)
			}
			continue
		}
		res.Recorded++
		res.Misses += r.compare(ctx, pod, want)
	}
	return res, nil
}

// gantryResources are the extended resources of every Gantry device kind.
var gantryResources = func() []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(device.Kinds))
	for _, k := range device.Kinds {
		out = append(out, contract.ResourceFor(k))
	}
	return out
}()

// desired returns the record the pod should carry. ok is false when the pod
// is to be left alone: kubelet does not list it and it is past admission
// (running, finished or deleting), so its record is history.
func (r *Reconciler) desired(ctx context.Context, snap podresources.Snapshot, pod *corev1.Pod, inv device.Inventory) (value string, held, ok bool) {
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	if !snap.Listed(key) {
		// Not admitted yet: nobody can have recorded anything.
		return "", false, pod.Status.Phase == corev1.PodPending && pod.DeletionTimestamp == nil && pod.Status.StartTime == nil
	}
	if snap.Admitting(pod, gantryResources...) {
		// Kubelet is still giving the pod's containers their devices;
		// a partial record would under-count the pod.
		return "", false, false
	}
	a, held, err := snap.Allocation(r.Node, pod, inv)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Kubelet reports devices Gantry cannot read", "pod", klog.KObj(pod))
		return "", false, false
	}
	if !held {
		return "", false, true
	}
	v, err := contract.EncodeAllocation(a)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Cannot encode the allocation kubelet made", "pod", klog.KObj(pod))
		return "", false, false
	}
	return v, true, true
}

// patch sets or removes the record, and removes the scheduler's intent
// when dropIntent is set. The pod's UID in the patch makes it fail, rather
// than land on a namesake, if the pod was replaced meanwhile.
func (r *Reconciler) patch(ctx context.Context, pod *corev1.Pod, set bool, value string, dropIntent bool) error {
	var v any
	if set {
		v = value
	}
	annotations := map[string]any{contract.AnnotationAllocated: v}
	if dropIntent {
		annotations[contract.AnnotationAllocation] = nil
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":         pod.UID,
		"annotations": annotations,
	}})
	if err != nil {
		return fmt.Errorf("encoding the patch of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	m := metrics.OrNew(r.Metrics)
	_, err = r.Client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		m.RecordPatches.WithLabelValues(metrics.ResultError).Inc()
		return fmt.Errorf("patching pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	m.RecordPatches.WithLabelValues(metrics.ResultSuccess).Inc()
	klog.FromContext(ctx).V(2).Info("Recorded allocation", "pod", klog.KObj(pod), "set", set)
	return nil
}

// compare reports, per container, where kubelet's choice differs from the
// scheduler's, and returns the number of differing containers.
func (r *Reconciler) compare(ctx context.Context, pod *corev1.Pod, recorded string) int {
	actual, err := contract.DecodeAllocation(recorded)
	if err != nil {
		return 0
	}
	v, ok := pod.Annotations[contract.AnnotationAllocation]
	if !ok {
		klog.FromContext(ctx).V(2).Info("Pod has devices but no scheduler intent (not scheduled by Gantry, or bound without PreBind)", "pod", klog.KObj(pod))
		return 0
	}
	intent, err := contract.DecodeAllocation(v)
	if err != nil {
		klog.FromContext(ctx).Info("Pod's scheduler intent is unreadable", "pod", klog.KObj(pod), "err", err)
		return 0
	}
	misses := 0
	for _, got := range actual.Containers {
		want, _ := intent.Container(got.Container, got.Kind)
		if shares(want.Devices) == shares(got.Devices) {
			continue
		}
		misses++
		metrics.OrNew(r.Metrics).SteeringMisses.WithLabelValues(string(got.Kind)).Inc()
		msg := fmt.Sprintf("container %s got %s from kubelet but the scheduler chose %s; the node's record wins",
			got.Container, shares(got.Devices), orNone(shares(want.Devices)))
		klog.FromContext(ctx).Info("Kubelet did not follow the scheduler's choice", "pod", klog.KObj(pod), "container", got.Container,
			"got", shares(got.Devices), "intended", shares(want.Devices))
		r.event(pod, corev1.EventTypeWarning, ReasonAllocationDiffers, "%s", msg)
	}
	return misses
}

func shares(ds []contract.DeviceShare) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%s=%d%%", d.ID, d.Units)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func orNone(s string) string {
	if s == "" {
		return "nothing for it"
	}
	return s
}

func (r *Reconciler) event(pod *corev1.Pod, typ, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(pod, typ, reason, format, args...)
	}
}
