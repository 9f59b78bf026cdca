package harness

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// defaultNodeCapacity is what a node gets when its creator set neither
// capacity nor allocatable; it matches manifests/kwok/stages/node-initialize.yaml.
func defaultNodeCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("128Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}

// NewKWOKNode returns a node for KWOK to run (annotated
// kwok.x-k8s.io/node=fake, labelled kubernetes.io/hostname and type=kwok)
// whose capacity and allocatable are allocatable (nil: 32 CPUs, 128Gi, 110
// pods). Create it with the clientset and wait with [WaitForNodeReady].
func NewKWOKNode(name string, allocatable corev1.ResourceList) *corev1.Node {
	if allocatable == nil {
		allocatable = defaultNodeCapacity()
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{KWOKNodeAnnotation: KWOKNodeAnnotationValue},
			Labels: map[string]string{
				corev1.LabelHostname:   name,
				corev1.LabelOSStable:   "linux",
				corev1.LabelArchStable: "amd64",
				"type":                 "kwok",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    allocatable.DeepCopy(),
			Allocatable: allocatable.DeepCopy(),
		},
	}
}

// CreateReadyNode creates node and then writes a Ready status to it, as a
// kubelet would, without KWOK: conditions Ready=True and no pressure, an
// address, and capacity (default 32 CPUs, 128Gi, 110 pods when neither
// capacity nor allocatable is set; allocatable defaults to capacity). Taints
// node.kubernetes.io/not-ready and .../unreachable are dropped, since no
// controller would remove them. The caller's node is not modified.
func CreateReadyNode(ctx context.Context, client kubernetes.Interface, node *corev1.Node) (*corev1.Node, error) {
	want := node.DeepCopy()
	want.Spec.Taints = withoutNotReadyTaints(want.Spec.Taints)
	if len(want.Status.Capacity) == 0 && len(want.Status.Allocatable) == 0 {
		want.Status.Capacity = defaultNodeCapacity()
	}
	if len(want.Status.Capacity) == 0 {
		want.Status.Capacity = want.Status.Allocatable.DeepCopy()
	}
	if len(want.Status.Allocatable) == 0 {
		want.Status.Allocatable = want.Status.Capacity.DeepCopy()
	}
	status := want.Status

	created, err := client.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create node %s: %w", node.Name, err)
	}
	var result *corev1.Node
	cur := created
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil { // a retry: start from the latest version
			latest, err := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur = latest
		}
		upd := cur.DeepCopy()
		cur = nil
		upd.Status.Capacity = status.Capacity
		upd.Status.Allocatable = status.Allocatable
		upd.Status.Phase = corev1.NodeRunning
		upd.Status.Conditions = readyNodeConditions(metav1.Now(), status.Conditions)
		if len(upd.Status.Addresses) == 0 {
			upd.Status.Addresses = []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: KWOKNodeIP},
				{Type: corev1.NodeHostName, Address: node.Name},
			}
		}
		if upd.Status.NodeInfo.KubeletVersion == "" {
			upd.Status.NodeInfo = corev1.NodeSystemInfo{
				Architecture: "amd64", OperatingSystem: "linux",
				KubeletVersion: "harness", KernelVersion: "harness", OSImage: "harness", ContainerRuntimeVersion: "harness",
			}
		}
		var err error
		result, err = client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set node %s Ready: %w", node.Name, err)
	}
	return result, nil
}

// readyNodeConditions returns the conditions of a healthy node, keeping any
// extra (non-kubelet) conditions the caller set.
func readyNodeConditions(now metav1.Time, extra []corev1.NodeCondition) []corev1.NodeCondition {
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "harness node is ready"},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID"},
		{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated"},
	}
	known := map[corev1.NodeConditionType]bool{}
	for i := range conds {
		conds[i].LastHeartbeatTime = now
		conds[i].LastTransitionTime = now
		known[conds[i].Type] = true
	}
	for _, c := range extra {
		if !known[c.Type] {
			conds = append(conds, c)
		}
	}
	return conds
}

func withoutNotReadyTaints(taints []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
			continue
		}
		out = append(out, t)
	}
	return out
}

// NodeIsReady reports whether node has condition Ready=True and no
// node.kubernetes.io/not-ready taint.
func NodeIsReady(node *corev1.Node) bool {
	for _, t := range node.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady {
			return false
		}
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitForNodeReady waits up to timeout for node name to be Ready (see
// [NodeIsReady]) and returns it.
func WaitForNodeReady(ctx context.Context, client kubernetes.Interface, name string, timeout time.Duration) (*corev1.Node, error) {
	var node *corev1.Node
	err := Poll(ctx, timeout, pollInterval, "wait for node "+name+" to be Ready", func(ctx context.Context) (bool, error, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err, nil
		}
		node = n
		if !NodeIsReady(n) {
			return false, fmt.Errorf("node conditions %v, taints %v", n.Status.Conditions, n.Spec.Taints), nil
		}
		return true, nil, nil
	})
	return node, err
}

// PodIsRunning reports whether pod is Running with condition Ready=True.
func PodIsRunning(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitForPodRunning waits up to timeout for pod namespace/name to be Running
// and Ready (see [PodIsRunning]) and returns it.
func WaitForPodRunning(ctx context.Context, client kubernetes.Interface, namespace, name string, timeout time.Duration) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := Poll(ctx, timeout, pollInterval, "wait for pod "+namespace+"/"+name+" to run", func(ctx context.Context) (bool, error, error) {
		p, err := client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err, nil
		}
		pod = p
		if !PodIsRunning(p) {
			return false, fmt.Errorf("pod phase %q, node %q, conditions %v", p.Status.Phase, p.Spec.NodeName, p.Status.Conditions), nil
		}
		return true, nil, nil
	})
	return pod, err
}

// WaitForPodGone waits up to timeout for pod namespace/name to be deleted.
func WaitForPodGone(ctx context.Context, client kubernetes.Interface, namespace, name string, timeout time.Duration) error {
	return Poll(ctx, timeout, pollInterval, "wait for pod "+namespace+"/"+name+" to be gone", func(ctx context.Context) (bool, error, error) {
		p, err := client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil, nil
		}
		if err != nil {
			return false, err, nil
		}
		return false, fmt.Errorf("pod still exists (deletionTimestamp %v, finalizers %v)", p.DeletionTimestamp, p.Finalizers), nil
	})
}
