package integration

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/kwok"
	"github.com/gantry-dev/gantry/autoscaler/core"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/test/harness"
)

// TestAutoscalerScaleDownHonoursEmptySelectorPDB runs the autoscaler (kwok
// provider, as the shipped ServiceAccount under the kwok demo overlay's
// roles) over three nodes it created and one it did not, a KWOK node that
// carries the group's label. Namespace team-a holds four pods (one on the
// first node, one on the second, two on the third) and a
// PodDisruptionBudget with an empty selector, which in policy/v1 covers
// every pod of the namespace, asking for three available. The test plays
// the controllers the harness does not run: the disruption controller
// (PDB status from the pods), a ReplicaSet (a replacement for each pod
// that goes) and, for the first node's pod, the kubelet (it keeps the pod
// Terminating for 3 s before removing it). With the group's minimum at 2,
// the autoscaler must remove exactly the first node, through an eviction
// the API server accepts, only after its pod is gone; fewer than three
// team-a pods are never available; the labelled node survives.
func TestAutoscalerScaleDownHonoursEmptySelectorPDB(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := startEnv(t, "Binpack")
	harness.StartKWOK(t, e.cp, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lctx := klog.NewContext(ctx, logr.Discard())
	const ns, minAvailable, terminating = "team-a", 3, 3 * time.Second

	g := config.NodeGroup{Name: "t4", MinSize: 2, MaxSize: 10, PricePerHour: 1, Template: config.NodeTemplate{
		Device: config.DeviceTemplate{Kind: device.GPU, Model: "T4", Count: 4, MemoryMiB: 16384},
		CPU:    resource.MustParse("64"), Memory: resource.MustParse("512Gi"), Pods: 110, Zone: "zone-a",
	}}
	v := &v1alpha1.AutoscalerConfiguration{}
	v1alpha1.SetDefaults_AutoscalerConfiguration(v)
	cfg := v1alpha1.Convert(v)
	cfg.NodeGroups = []config.NodeGroup{g}
	cfg.ScaleDown.UnneededTime = 2 * time.Second
	cfg.ScaleDown.DelayAfterAdd = 0
	cfg.ScaleDown.DelayAfterFailure = time.Second
	cfg.ScaleDown.MaxPodEvictionTime = time.Minute

	saCfg, _ := shippedAutoscaler(t, e.cp, autoscalerKWOKDemo)
	client, err := kubernetes.NewForConfig(saCfg)
	require.NoError(t, err)
	factory := source.NewInformerFactory(client)
	src := source.NewClient(client, factory)
	provider := kwok.New(client, src.NodeLister(), cfg.AllGroups())
	require.NoError(t, source.StartInformers(ctx, factory))
	defer factory.Shutdown()

	// Watch node deletions as the admin.
	var mu sync.Mutex
	deletedAt := map[string]time.Time{}
	adminInformers := informers.NewSharedInformerFactory(e.client, 0)
	_, err = adminInformers.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if n, ok := obj.(*corev1.Node); ok {
			mu.Lock()
			deletedAt[n.Name] = time.Now()
			mu.Unlock()
		}
	}})
	require.NoError(t, err)
	adminInformers.Start(ctx.Done())
	defer adminInformers.Shutdown()

	// Three nodes the provider creates (as the autoscaler would), and one
	// it did not: a KWOK node with the group's label.
	require.NoError(t, provider.Refresh(ctx))
	require.NoError(t, provider.NodeGroups()[0].IncreaseSize(ctx, 3))
	impostor := harness.NewKWOKNode("labelled-not-owned", nil)
	impostor.Labels[cloudprovider.LabelNodeGroup] = "t4"
	_, err = e.client.CoreV1().Nodes().Create(ctx, impostor, metav1.CreateOptions{})
	require.NoError(t, err)
	nodes, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var owned []string
	for _, n := range nodes.Items {
		_, err := harness.WaitForNodeReady(ctx, e.client, n.Name, 30*time.Second)
		require.NoError(t, err)
		if n.Annotations[kwok.AnnotationOwner] != "" {
			owned = append(owned, n.Name)
		}
	}
	sort.Strings(owned)
	require.Len(t, owned, 3)

	_, err = e.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	pod := func(name, node string) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name},
				Annotations: map[string]string{core.AnnotationSafeToEvict: "true"}},
			Spec: corev1.PodSpec{NodeName: node, SchedulerName: corev1.DefaultSchedulerName, Containers: []corev1.Container{{
				Name: "c", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
			}}},
		}
		return p
	}
	// The first node's pod is left to the test (KWOK opt-out): it stays
	// Terminating after its eviction until the test removes it.
	first := pod("p0", owned[0])
	first.Annotations[harness.KWOKStatusAnnotation] = harness.KWOKStatusManual
	for _, p := range []*corev1.Pod{first, pod("p1", owned[1]), pod("p2", owned[2]), pod("p3", owned[2])} {
		_, err := e.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	p0, err := e.client.CoreV1().Pods(ns).Get(ctx, "p0", metav1.GetOptions{})
	require.NoError(t, err)
	p0.Status.Phase = corev1.PodRunning
	p0.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	_, err = e.client.CoreV1().Pods(ns).UpdateStatus(ctx, p0, metav1.UpdateOptions{})
	require.NoError(t, err)
	min3 := intstr.FromInt32(minAvailable)
	_, err = e.client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "everything", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &min3, Selector: &metav1.LabelSelector{}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	// The controllers, every 50 ms: availability is recorded, the PDB's
	// status recomputed, pods that go replaced, and p0 removed 3 s after
	// its eviction (after checking that its node is still there).
	var (
		minSeen           = 1 << 30
		p0EvictedAt       time.Time
		p0GoneAt          time.Time
		nodeWhileDraining error
		replaced          = map[string]bool{}
		seq               int
	)
	var controllers sync.WaitGroup
	controllers.Add(1)
	go func() {
		defer controllers.Done()
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			l, err := e.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			available := map[string]bool{}
			for _, p := range l.Items {
				if p.DeletionTimestamp == nil && podReady(&p) {
					available[p.Name] = true
				}
				if p.DeletionTimestamp != nil && !replaced[p.Name] {
					// A ReplicaSet replaces a pod as soon as it terminates.
					replaced[p.Name] = true
					seq++
					r := pod(fmt.Sprintf("r%d", seq), "")
					if _, err := e.client.CoreV1().Pods(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
						t.Errorf("replacing %s: %v", p.Name, err)
					}
				}
				if p.Name == "p0" && p.DeletionTimestamp != nil {
					if p0EvictedAt.IsZero() {
						p0EvictedAt = time.Now()
					} else if p0GoneAt.IsZero() && time.Since(p0EvictedAt) > terminating {
						// The kubelet's part: the node must still be
						// there while its pod terminates.
						_, nodeWhileDraining = e.client.CoreV1().Nodes().Get(ctx, owned[0], metav1.GetOptions{})
						if err := e.client.CoreV1().Pods(ns).Delete(ctx, "p0", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err == nil {
							p0GoneAt = time.Now()
						}
					}
				}
			}
			minSeen = min(minSeen, len(available))
			updatePDBStatus(ctx, e.client, ns, "everything", minAvailable, l.Items)
		}
	}()
	defer controllers.Wait()
	defer cancel()

	a, err := core.New(lctx, core.Options{Config: cfg, Provider: provider, Source: src, Recorder: &record.FakeRecorder{}, Seed: 1})
	require.NoError(t, err)
	var loops sync.WaitGroup
	loops.Add(1)
	go func() {
		defer loops.Done()
		for ctx.Err() == nil {
			if err := a.RunOnce(lctx, time.Now()); err != nil && ctx.Err() == nil {
				if apierrors.IsForbidden(err) || strings.Contains(err.Error(), "forbidden") {
					t.Errorf("loop under the shipped roles: %v", err)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	defer loops.Wait()

	start := time.Now()
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		_, gone := deletedAt[owned[0]]
		return gone, nil
	})
	require.NoError(t, err, "the first node was not removed")
	removed := time.Since(start)
	// A few more loops: nothing else may go (the group is at its minimum,
	// the labelled node is not the provider's).
	time.Sleep(5 * time.Second)
	cancel()
	loops.Wait()
	controllers.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("RESULT: node %s removed %.1fs after the loop started; its pod was evicted, Terminating %.1fs, gone %.1fs before the node; fewest team-a pods available at any time %d (PDB minAvailable %d)",
		owned[0], removed.Seconds(), p0GoneAt.Sub(p0EvictedAt).Seconds(), deletedAt[owned[0]].Sub(p0GoneAt).Seconds(), minSeen, minAvailable)
	require.False(t, p0EvictedAt.IsZero(), "p0 was never evicted")
	require.False(t, p0GoneAt.IsZero(), "p0 was never removed")
	assert.NoError(t, nodeWhileDraining, "the node was deleted while its evicted pod was still terminating")
	assert.True(t, deletedAt[owned[0]].After(p0GoneAt), "node deleted at %v, before its pod was gone at %v", deletedAt[owned[0]], p0GoneAt)
	assert.GreaterOrEqual(t, minSeen, minAvailable, "the PodDisruptionBudget was violated")
	assert.Equal(t, []string{owned[0]}, keys(deletedAt), "only the first provider node goes")
	_, err = e.client.CoreV1().Nodes().Get(context.Background(), impostor.Name, metav1.GetOptions{})
	assert.NoError(t, err, "the labelled node the provider did not create survives")
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func keys(m map[string]time.Time) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// updatePDBStatus does the disruption controller's part for a PDB with a
// minAvailable count: healthy pods are the ready, not terminating pods it
// covers that the Eviction API has not just disrupted (status.disruptedPods,
// kept while such a pod exists); disruptionsAllowed is healthy minus
// minAvailable. The write is conditional on the resourceVersion read, so it
// never overwrites the API server's own decrement after an eviction.
func updatePDBStatus(ctx context.Context, client kubernetes.Interface, ns, name string, minAvailable int32, pods []corev1.Pod) {
	pdb, err := client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return
	}
	exists := map[string]bool{}
	for _, p := range pods {
		exists[p.Name] = true
	}
	disrupted := map[string]metav1.Time{}
	for p, at := range pdb.Status.DisruptedPods {
		if exists[p] {
			disrupted[p] = at
		}
	}
	var healthy int32
	for i := range pods {
		p := &pods[i]
		if _, d := disrupted[p.Name]; !d && p.DeletionTimestamp == nil && podReady(p) && source.PDBMatches(pdb, p) {
			healthy++
		}
	}
	pdb = pdb.DeepCopy()
	pdb.Status.ObservedGeneration = pdb.Generation
	pdb.Status.DisruptedPods = disrupted
	pdb.Status.CurrentHealthy = healthy
	pdb.Status.DesiredHealthy = minAvailable
	pdb.Status.ExpectedPods = int32(len(pods))
	pdb.Status.DisruptionsAllowed = max(0, healthy-minAvailable)
	_, _ = client.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, pdb, metav1.UpdateOptions{})
}
