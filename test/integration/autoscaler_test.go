package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/clusterapi"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/kwok"
	"github.com/gantry-dev/gantry/autoscaler/core"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/test/harness"
)

// TestAutoscalerEndToEnd: from zero GPU nodes, 500 pods asking for shares
// of mixed sizes and models are pending on the real gantry-scheduler; the
// autoscaler (kwok provider, loop on a real clock every second, running as
// the shipped ServiceAccount under the kwok demo overlay's roles) adds
// nodes from the right groups; KWOK runs them; all 500 bind; the pods are
// deleted and the nodes go after the (shortened) unneeded time.
func TestAutoscalerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := startEnv(t, "Binpack")
	harness.StartKWOK(t, e.cp, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The loop logs through a discarding logger: the test reports results.
	lctx := klog.NewContext(ctx, logr.Discard())

	group := func(name, model string, count int) config.NodeGroup {
		return config.NodeGroup{Name: name, MaxSize: 100, PricePerHour: 1, Template: config.NodeTemplate{
			Device: config.DeviceTemplate{Kind: device.GPU, Model: model, Count: count, MemoryMiB: 16384},
			CPU:    resource.MustParse("64"), Memory: resource.MustParse("512Gi"), Pods: 110, Zone: "zone-a",
		}}
	}
	v := &v1alpha1.AutoscalerConfiguration{}
	v1alpha1.SetDefaults_AutoscalerConfiguration(v)
	cfg := v1alpha1.Convert(v)
	cfg.NodeGroups = []config.NodeGroup{group("t4", "T4", 4), group("a100", "A100", 8)}
	cfg.ScaleDown.UnneededTime = 5 * time.Second
	cfg.ScaleDown.DelayAfterAdd = 5 * time.Second
	cfg.ScaleDown.DelayAfterFailure = time.Second
	cfg.ScaleDown.MaxConcurrent = 100

	saCfg, _ := shippedAutoscaler(t, e.cp, autoscalerKWOKDemo)
	client, err := kubernetes.NewForConfig(saCfg)
	require.NoError(t, err)
	factory := source.NewInformerFactory(client)
	src := source.NewClient(client, factory)
	a, err := core.New(lctx, core.Options{Config: cfg, Provider: kwok.New(client, src.NodeLister(), cfg.AllGroups()),
		Source: src, Recorder: &record.FakeRecorder{}, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, source.StartInformers(ctx, factory))
	defer factory.Shutdown()
	var loops sync.WaitGroup
	loops.Add(1)
	go func() {
		defer loops.Done()
		for ctx.Err() == nil {
			if err := a.RunOnce(lctx, time.Now()); err != nil && ctx.Err() == nil {
				// A permission the shipped roles lack fails the test.
				if apierrors.IsForbidden(err) || strings.Contains(err.Error(), "forbidden") {
					t.Errorf("loop under the shipped roles: %v", err)
				} else {
					t.Logf("loop: %v", err)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	defer loops.Wait()
	defer cancel()

	mixed, minimum := shareWorkload()
	scaleUpAndDown(t, ctx, e, mixed, minimum)
}

// shareWorkload is the end-to-end tests' 500 pods (sizes and models
// interleaved) and the node count a perfect packing needs.
func shareWorkload() ([]*corev1.Pod, int) {
	// T4: 200 x 50% + 40 x 25% = 110 cards = 28 four-card nodes.
	// A100: 100 x 60% + 100 x 40% + 60 x 100% = 160 cards = 20 eight-card nodes.
	type batch struct {
		n     int
		pct   int64
		model string
	}
	batches := []batch{{200, 50, "T4"}, {40, 25, "T4"}, {100, 60, "A100"}, {100, 40, "A100"}, {60, 100, "A100"}}
	const minimum = 28 + 20
	var pods []*corev1.Pod
	for _, b := range batches {
		for i := 0; i < b.n; i++ {
			pods = append(pods, coretest.MakePod(fmt.Sprintf("%s-%d-%d", strings.ToLower(b.model), b.pct, i)).
				GPUPercent(b.pct).Models(b.model).Requests(100, 128).Obj())
		}
	}
	// Interleave sizes so the scheduler sees them as a mixed stream.
	mixed := make([]*corev1.Pod, 0, len(pods))
	for i := 0; len(mixed) < len(pods); i++ {
		for j := i; j < len(pods); j += 7 {
			if pods[j] != nil {
				mixed = append(mixed, pods[j])
				pods[j] = nil
			}
		}
	}
	return mixed, minimum
}

// Claims of the README and bench/README that the end-to-end tests hold the
// autoscaler to.
const (
	// maxOverPacking: nodes bought are within 5 % of a perfect packing's.
	maxOverPacking = 0.05
	// maxBindLatency: every pod is bound within 30 s of its creation (the
	// seed's burst figure).
	maxBindLatency = 30 * time.Second
)

// scaleUpAndDown creates pods on a cluster whose autoscaler (kwok provider,
// groups t4 and a100, short unneeded time) is running, waits for every pod
// to be bound on nodes from the right groups, checks the claims (each pod
// bound within maxBindLatency of its creation, nodes within maxOverPacking
// of the perfect packing's minimum), deletes the pods and waits for every
// node to be removed, logging the times and node counts.
func scaleUpAndDown(t *testing.T, ctx context.Context, e *env, mixed []*corev1.Pod, minimum int) {
	t.Helper()
	start := time.Now()
	created := map[string]time.Time{}
	for _, p := range mixed {
		_, err := e.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
		created[p.Name] = time.Now()
	}
	// Each pod's bind latency: from its Create returning to the first poll
	// (every 100 ms) that sees it bound.
	latency := map[string]time.Duration{}
	var bound time.Duration
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := e.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		now := time.Now()
		for _, p := range l.Items {
			if _, seen := latency[p.Name]; !seen && p.Spec.NodeName != "" {
				latency[p.Name] = now.Sub(created[p.Name])
			}
		}
		if len(latency) == len(mixed) {
			bound = time.Since(start)
			return true, nil
		}
		return false, nil
	})
	require.NoError(t, err, "not every pod was bound (%d of %d)", len(latency), len(mixed))
	var worst time.Duration
	var worstPod string
	for name, d := range latency {
		if d > worst {
			worst, worstPod = d, name
		}
	}
	nodes, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	perGroup := map[string]int{}
	for _, n := range nodes.Items {
		perGroup[n.Labels[cloudprovider.LabelNodeGroup]]++
	}
	over := float64(len(nodes.Items)-minimum) / float64(minimum)
	t.Logf("RESULT: %d pods bound %.1fs after creation (slowest pod %s: %.1fs); nodes added %d (t4 %d, a100 %d) against a perfect packing's %d (+%.1f%%)",
		len(mixed), bound.Seconds(), worstPod, worst.Seconds(), len(nodes.Items), perGroup["t4"], perGroup["a100"], minimum, 100*over)
	require.GreaterOrEqual(t, perGroup["t4"], 28)
	require.GreaterOrEqual(t, perGroup["a100"], 20)
	require.LessOrEqual(t, over, maxOverPacking, "%d nodes for a packing minimum of %d: more than %.0f%% over", len(nodes.Items), minimum, 100*maxOverPacking)
	require.LessOrEqual(t, worst, maxBindLatency, "pod %s bound %v after its creation", worstPod, worst)

	// Scale-down: delete the pods; the nodes go after the unneeded time.
	require.NoError(t, e.client.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{}))
	deleted := time.Now()
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, nil
	})
	require.NoError(t, err, "nodes were not removed")
	t.Logf("RESULT: every node removed %.1fs after the pods were deleted", time.Since(deleted).Seconds())
}

// TestClusterAPIProviderScalesMachineDeployment installs the Cluster API
// MachineDeployment and Machine CRDs (group, version and names from the
// sigs.k8s.io/cluster-api/api types, with the scale subresource on
// spec.replicas) on the real kube-apiserver; no controllers run. The
// clusterapi provider, as the shipped ServiceAccount under the base
// manifests' roles, reads the template from the MachineDeployment's
// annotations and resizes it (spec.replicas is checked through the scale
// subresource); it owns the node whose providerID is a Machine of the
// MachineDeployment, marks that Machine for deletion on scale-down, and
// refuses a node that only carries the group's label.
func TestClusterAPIProviderScalesMachineDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	cp := harness.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(cp.Config)
	require.NoError(t, err)
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, kind := range []string{"MachineDeployment", "Machine"} {
		plural := strings.ToLower(kind) + "s"
		versions := map[string]any{
			"name": clusterv1.GroupVersion.Version, "served": true, "storage": true,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
		}
		if kind == "MachineDeployment" {
			versions["subresources"] = map[string]any{"status": map[string]any{},
				"scale": map[string]any{"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}}
		}
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": plural + "." + clusterv1.GroupVersion.Group},
			"spec": map[string]any{"group": clusterv1.GroupVersion.Group, "scope": "Namespaced",
				"names":    map[string]any{"kind": kind, "listKind": kind + "List", "plural": plural, "singular": strings.ToLower(kind)},
				"versions": []any{versions}},
		}}
		_, err := dyn.Resource(crds).Create(ctx, crd, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	replicas := int32(1)
	md := &clusterv1.MachineDeployment{
		TypeMeta: metav1.TypeMeta{APIVersion: clusterv1.GroupVersion.String(), Kind: "MachineDeployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "gpu-md", Namespace: "default", Annotations: map[string]string{
			clusterapi.AnnotationTemplateGPUModel: "A100", clusterapi.AnnotationTemplateGPUCount: "8",
			clusterapi.AnnotationMaxSize: "6", clusterapi.AnnotationMinSize: "1",
		}},
		Spec: clusterv1.MachineDeploymentSpec{ClusterName: "c1", Replicas: &replicas},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(md)
	require.NoError(t, err)
	// The CRD becomes servable shortly after it is created.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(clusterapi.MachineDeployments).Namespace("default").Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
		return err == nil, nil
	})
	require.NoError(t, err)

	machine := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": clusterv1.GroupVersion.String(), "kind": "Machine",
		"metadata": map[string]any{"name": "gpu-md-x1", "namespace": "default", "labels": map[string]any{clusterv1.MachineDeploymentNameLabel: "gpu-md"}},
		"spec":     map[string]any{"clusterName": "c1", "providerID": "capi://gpu-md-x1"},
	}}
	_, err = dyn.Resource(clusterapi.Machines).Namespace("default").Create(ctx, machine, metav1.CreateOptions{})
	require.NoError(t, err)

	saCfg, shipped := shippedAutoscaler(t, cp, autoscalerBase)
	require.Contains(t, shipped, "--provider=clusterapi")
	saDyn, err := dynamic.NewForConfig(saCfg)
	require.NoError(t, err)
	p, err := clusterapi.New(saDyn, []config.NodeGroup{{Name: "gpu", ProviderRef: "default/gpu-md", MaxSize: 10, Template: config.NodeTemplate{
		CPU: resource.MustParse("32"), Memory: resource.MustParse("256Gi"), Pods: 110}}})
	require.NoError(t, err)
	require.NoError(t, p.Refresh(ctx))
	g := p.NodeGroups()[0]
	require.Equal(t, 6, g.Config().MaxSize)
	tn, err := g.TemplateNode()
	require.NoError(t, err)
	require.Equal(t, "A100", tn.Labels["gantry.dev/gpu-model"])

	require.NoError(t, g.IncreaseSize(ctx, 3))
	scale, err := dyn.Resource(clusterapi.MachineDeployments).Namespace("default").Get(ctx, "gpu-md", metav1.GetOptions{}, "scale")
	require.NoError(t, err)
	got, _, _ := unstructured.NestedInt64(scale.Object, "spec", "replicas")
	require.Equal(t, int64(4), got, "spec.replicas through the scale subresource")
	require.Error(t, g.IncreaseSize(ctx, 3), "above the max-size annotation")
	require.NoError(t, g.DecreaseTargetSize(ctx, 2))
	u, err := dyn.Resource(clusterapi.MachineDeployments).Namespace("default").Get(ctx, "gpu-md", metav1.GetOptions{})
	require.NoError(t, err)
	got, _, _ = unstructured.NestedInt64(u.Object, "spec", "replicas")
	require.Equal(t, int64(2), got)
	require.NoError(t, p.Refresh(ctx))
	size, _ := g.TargetSize()
	require.Equal(t, 2, size)

	// Ownership: by the Machine's providerID, not by labels.
	mine := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gpu-node-1"}, Spec: corev1.NodeSpec{ProviderID: "capi://gpu-md-x1"}}
	labelled := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Labels: map[string]string{cloudprovider.LabelNodeGroup: "gpu"},
		Annotations: map[string]string{clusterv1.MachineAnnotation: "gpu-md-x1"}}, Spec: corev1.NodeSpec{ProviderID: "other://n"}}
	owner, err := p.NodeGroupForNode(mine)
	require.NoError(t, err)
	require.NotNil(t, owner)
	owner, err = p.NodeGroupForNode(labelled)
	require.NoError(t, err)
	require.Nil(t, owner, "a node with the group's label but no Machine of the group is not the provider's")
	err = g.DeleteNodes(ctx, []*corev1.Node{labelled})
	require.True(t, cloudprovider.IsNotOwned(err), "%v", err)
	require.NoError(t, g.DeleteNodes(ctx, []*corev1.Node{mine}))
	m, err := dyn.Resource(clusterapi.Machines).Namespace("default").Get(ctx, "gpu-md-x1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Contains(t, m.GetAnnotations(), clusterapi.AnnotationDeleteMachine)
	u, err = dyn.Resource(clusterapi.MachineDeployments).Namespace("default").Get(ctx, "gpu-md", metav1.GetOptions{})
	require.NoError(t, err)
	got, _, _ = unstructured.NestedInt64(u.Object, "spec", "replicas")
	require.Equal(t, int64(1), got, "scale-down lowered replicas with the Machine marked")
}
