package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/dynamic-resource-allocation/resourceslice"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/kwok"
	"github.com/gantry-dev/gantry/autoscaler/core"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/scheduler/simulate"
	"github.com/gantry-dev/gantry/test/harness"
)

// TestDRAAutoscalerEndToEnd: the autoscaler in DRA mode from zero nodes.
// Real etcd and kube-apiserver; the real bin/gantry-scheduler, as its
// shipped ServiceAccount, with manifests/dra's scheduler profile
// (GantryDRA in place of DynamicResources); kube-controller-manager's
// ResourceClaim controller in process; KWOK running the nodes; the
// autoscaler's loop in process as its shipped ServiceAccount under the
// kwok demo roles, with a DRA-mode group of four-card A100 nodes and a
// device-plugin T4 group, simulating with the same shipped profile. Pods
// ask shares through manifests/dra's claim templates (10, 25, 50 and 100
// percent); each new DRA node's ResourceSlice is published as its
// driver publishes it (the driver's devices, core/contract.DRADevice,
// through k8s.io/dynamic-resource-allocation/resourceslice, which the
// driver's kubelet plugin runs), since KWOK has no kubelet. Every pod
// binds with its claims allocated on the right group's nodes, no card
// holds more than 100 percent, the node count is within one of the
// packing minimum; once the pods are deleted, every node goes.
func TestDRAAutoscalerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	began := time.Now()
	cp := harness.Start(t)
	c := cp.Client
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	shipped, err := os.ReadFile(filepath.Join(root, "manifests", "scheduler", "scheduler-config.yaml"))
	require.NoError(t, err)
	// The shipped configuration with this test's connection and no leader
	// election: its gantry-scheduler profile runs GantryDRA.
	profile := regexp.MustCompile(`(?m)^leaderElection:\n(?:  .*\n)+`).ReplaceAllString(string(shipped), "")
	require.NotContains(t, profile, "leaderElection")
	startShippedDRAScheduler(t, cp, profile)
	harness.StartKWOK(t, cp, "")
	startClaimController(t, ctx, c)

	require.NoError(t, cp.ApplyFiles(ctx, filepath.Join(root, "manifests/dra/deviceclasses.yaml")))
	templates, err := harness.ReadManifests(filepath.Join(root, "manifests/dra/claimtemplates.yaml"))
	require.NoError(t, err)
	for _, o := range templates {
		o.SetNamespace("default")
	}
	require.NoError(t, cp.Apply(ctx, templates...))

	const draGroup, pluginGroup = "a100-dra", "t4"
	group := func(name, model string, mode config.DeviceMode) config.NodeGroup {
		return config.NodeGroup{Name: name, MaxSize: 20, PricePerHour: 1, Template: config.NodeTemplate{
			Device: config.DeviceTemplate{Kind: device.GPU, Model: model, Count: 4, MemoryMiB: 40 << 10, Mode: mode},
			CPU:    resource.MustParse("64"), Memory: resource.MustParse("512Gi"), Pods: 110, Zone: "zone-a",
		}}
	}
	v := &v1alpha1.AutoscalerConfiguration{}
	v1alpha1.SetDefaults_AutoscalerConfiguration(v)
	cfg := v1alpha1.Convert(v)
	cfg.NodeGroups = []config.NodeGroup{group(draGroup, "A100", config.DeviceModeDRA), group(pluginGroup, "T4", config.DeviceModeDevicePlugin)}
	cfg.ScaleDown.UnneededTime = 5 * time.Second
	cfg.ScaleDown.DelayAfterAdd = 5 * time.Second
	cfg.ScaleDown.DelayAfterFailure = time.Second
	cfg.ScaleDown.MaxConcurrent = 100
	require.True(t, cfg.DRA())

	// What each new DRA node's agent would publish.
	publishSlices(t, ctx, c, cfg.NodeGroups[0])

	saCfg, _ := shippedAutoscaler(t, cp, autoscalerKWOKDemo)
	client, err := kubernetes.NewForConfig(saCfg)
	require.NoError(t, err)
	factory := source.NewInformerFactory(client)
	src := source.NewClient(client, factory)
	src.EnableDRA(factory)
	lctx := klog.NewContext(ctx, logr.Discard())
	a, err := core.New(lctx, core.Options{Config: cfg, Provider: kwok.New(client, src.NodeLister(), cfg.AllGroups()),
		Source: src, Recorder: &record.FakeRecorder{}, Seed: 1,
		// The autoscaler simulates with the scheduler's own profile.
		Scheduler: simulate.Options{Profile: string(shipped)}})
	require.NoError(t, err)
	require.NoError(t, source.StartInformers(ctx, factory))
	loopCtx, stopLoop := context.WithCancel(lctx)
	var loops sync.WaitGroup
	loops.Add(1)
	go func() {
		defer loops.Done()
		for loopCtx.Err() == nil {
			if err := a.RunOnce(loopCtx, time.Now()); err != nil && loopCtx.Err() == nil {
				if apierrors.IsForbidden(err) || strings.Contains(err.Error(), "forbidden") {
					t.Errorf("loop under the shipped roles: %v", err)
				} else {
					t.Logf("loop: %v", err)
				}
			}
			select {
			case <-loopCtx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	defer func() {
		stopLoop()
		loops.Wait()
		cancel() // the informers stop with ctx; Shutdown waits for them
		factory.Shutdown()
	}()

	// 8 x 100 % + 24 x 50 % + 16 x 25 % + 20 x 10 % = 2,600 percent: 26
	// cards, seven four-card nodes at best (device counting: 68 cards, 17
	// nodes). 8 x 50 % of T4 in device-plugin mode: one node.
	type batch struct {
		n        int
		template string
	}
	const draMinimum, pluginMinimum = 7, 1
	var pods []*corev1.Pod
	for _, b := range []batch{{8, "gpu-100"}, {24, "gpu-50"}, {16, "gpu-25"}, {20, "gpu-10"}} {
		for i := range b.n {
			p := coretest.MakePod(fmt.Sprintf("%s-%d", b.template, i)).Requests(100, 128).Obj()
			p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimTemplateName: ptr.To(b.template)}}
			p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
			pods = append(pods, p)
		}
	}
	for i := range 8 {
		pods = append(pods, coretest.MakePod(fmt.Sprintf("plugin-%d", i)).GPUPercent(50).Models("T4").Requests(100, 128).Obj())
	}
	// Interleave the sizes, as a mixed stream.
	mixed := make([]*corev1.Pod, 0, len(pods))
	for i := 0; i < 7; i++ {
		for j := i; j < len(pods); j += 7 {
			mixed = append(mixed, pods[j])
		}
	}
	t.Logf("RESULT: control plane, scheduler, KWOK, claim controller and autoscaler up in %.1fs", time.Since(began).Seconds())
	start := time.Now()
	for _, p := range mixed {
		_, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		bound := 0
		for _, p := range l.Items {
			if p.Spec.NodeName != "" {
				bound++
			}
		}
		last = fmt.Sprintf("%d of %d pods bound", bound, len(mixed))
		return bound == len(mixed), nil
	})
	require.NoError(t, err, last)
	boundAfter := time.Since(start)

	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	groupOf := map[string]string{}
	perGroup := map[string]int{}
	for _, n := range nodes.Items {
		groupOf[n.Name] = n.Labels[cloudprovider.LabelNodeGroup]
		perGroup[groupOf[n.Name]]++
	}
	// Each pod on its group's node, each DRA pod's claim allocated there
	// and reserved for it.
	l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, p := range l.Items {
		if len(p.Spec.ResourceClaims) == 0 {
			assert.Equal(t, pluginGroup, groupOf[p.Spec.NodeName], "device-plugin pod %s", p.Name)
			continue
		}
		assert.Equal(t, draGroup, groupOf[p.Spec.NodeName], "claim pod %s", p.Name)
		require.Len(t, p.Status.ResourceClaimStatuses, 1, p.Name)
		cl, err := c.ResourceV1().ResourceClaims("default").Get(ctx, *p.Status.ResourceClaimStatuses[0].ResourceClaimName, metav1.GetOptions{})
		require.NoError(t, err)
		require.NotNil(t, cl.Status.Allocation, "claim of %s", p.Name)
		require.Len(t, cl.Status.Allocation.Devices.Results, 1)
		assert.Equal(t, p.Spec.NodeName, cl.Status.Allocation.Devices.Results[0].Pool, "claim of %s allocated off its node", p.Name)
		require.Len(t, cl.Status.ReservedFor, 1)
		assert.Equal(t, p.UID, cl.Status.ReservedFor[0].UID)
	}
	// No card over 100 percent; every percent asked is held.
	cluster := readCluster(t, cp)
	require.Empty(t, cluster.Problems)
	held := 0
	for name, n := range cluster.Nodes {
		for _, d := range n.State.Devices {
			assert.LessOrEqual(t, d.Used, device.UnitsPerDevice, "card %d of %s", d.Index, name)
			held += d.Used
		}
	}
	assert.Equal(t, 2600, held)
	t.Logf("RESULT: %d pods bound %.1fs after creation; nodes %s %d (packing minimum %d), %s %d (minimum %d)",
		len(mixed), boundAfter.Seconds(), draGroup, perGroup[draGroup], draMinimum, pluginGroup, perGroup[pluginGroup], pluginMinimum)
	assert.GreaterOrEqual(t, perGroup[draGroup], draMinimum)
	assert.LessOrEqual(t, perGroup[draGroup], draMinimum+1, "DRA nodes close to the packing minimum (device counting would need 17)")
	assert.Equal(t, pluginMinimum, perGroup[pluginGroup])
	assert.Len(t, nodes.Items, perGroup[draGroup]+perGroup[pluginGroup], "no node outside the two groups")

	// Scale-down: the pods go, the controller deletes their claims, every
	// node is idle (consumed capacity 0) and is removed.
	require.NoError(t, c.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{}))
	deleted := time.Now()
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		last = fmt.Sprintf("%d nodes left", len(l.Items))
		return len(l.Items) == 0, nil
	})
	require.NoError(t, err, last)
	t.Logf("RESULT: every node removed %.1fs after the pods were deleted; %.1fs in all", time.Since(deleted).Seconds(), time.Since(start).Seconds())
}

// startShippedDRAScheduler runs bin/gantry-scheduler as its shipped
// ServiceAccount with profile (manifests/dra's), no leader election.
func startShippedDRAScheduler(t *testing.T, cp *harness.ControlPlane, profile string) *harness.Process {
	t.Helper()
	dir := t.TempDir()
	kubeconfig := runAsShippedScheduler(t, cp, dir)
	cfg := filepath.Join(dir, "scheduler-config.yaml")
	head := fmt.Sprintf("clientConnection:\n  kubeconfig: %q\n  qps: 5000\n  burst: 5000\nleaderElection:\n  leaderElect: false\n", kubeconfig)
	require.NoError(t, os.WriteFile(cfg, []byte(head+profile), 0o600))
	return startSchedulerProcess(t, cfg, kubeconfig)
}

// publishSlices stands in for the DRA driver on every node of g that
// appears: it publishes the node's ResourceSlice with the driver's own
// devices (core/contract.DRADevice of the group's cards, as
// core/dra.TemplateSlice lists them) through a resourceslice controller,
// the library the driver's kubelet plugin publishes with; when the node
// goes, the controller stops and the slices are deleted (kubelet and the
// garbage collector would).
func publishSlices(t *testing.T, ctx context.Context, c kubernetes.Interface, g config.NodeGroup) {
	t.Helper()
	ctx, cancel := context.WithCancel(klog.NewContext(ctx, klog.Background().WithName("dra-publisher")))
	var mu sync.Mutex
	running := map[string]*resourceslice.Controller{}
	f := informers.NewSharedInformerFactory(c, 0)
	start := func(obj any) {
		n, ok := obj.(*corev1.Node)
		if !ok || n.Labels[cloudprovider.LabelNodeGroup] != g.Name {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if running[n.Name] != nil {
			return
		}
		devices := coredra.TemplateSlice(n.Name, cloudprovider.Inventory(g.Template, n.Name)).Spec.Devices
		ctrl, err := resourceslice.StartController(ctx, resourceslice.Options{
			DriverName: contract.DRADriver,
			KubeClient: c,
			Owner:      &resourceslice.Owner{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID},
			Resources: &resourceslice.DriverResources{Pools: map[string]resourceslice.Pool{
				n.Name: {Slices: []resourceslice.Slice{{Devices: devices}}},
			}},
		})
		if err != nil {
			t.Errorf("publishing node %s's slice: %v", n.Name, err)
			return
		}
		running[n.Name] = ctrl
	}
	_, err := f.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: start,
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			n, ok := obj.(*corev1.Node)
			if !ok {
				return
			}
			mu.Lock()
			ctrl := running[n.Name]
			delete(running, n.Name)
			mu.Unlock()
			if ctrl == nil {
				return
			}
			ctrl.Stop()
			if err := c.ResourceV1().ResourceSlices().DeleteCollection(ctx, metav1.DeleteOptions{},
				metav1.ListOptions{FieldSelector: resourceapi.ResourceSliceSelectorNodeName + "=" + n.Name}); err != nil && ctx.Err() == nil {
				t.Errorf("deleting node %s's slices: %v", n.Name, err)
			}
		},
	})
	require.NoError(t, err)
	f.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		f.Shutdown()
		mu.Lock()
		defer mu.Unlock()
		for _, ctrl := range running {
			ctrl.Stop()
		}
	})
}
