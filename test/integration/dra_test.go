package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	coredra "github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/dra/dratest"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
	"github.com/gantry-dev/gantry/scheduler/apis/config/scheme"
	"github.com/gantry-dev/gantry/test/harness"
)

// draArgs configures GantryDRA in the test profile; the test decodes the
// same text to predict the scheduler's choices.
const draArgs = `apiVersion: gantry.dev/v1alpha1
kind: DeviceShareArgs
policy: FGD
workload:
  - {count: 1, percent: 10, weight: 2}
  - {count: 1, percent: 25, weight: 3}
  - {count: 1, percent: 50, weight: 2}
  - {count: 1, percent: 100, weight: 1}
`

// draSchedulerConfig runs GantryDRA in place of DynamicResources, as the only
// scorer, so that the node it prefers is the node the pod gets.
const draSchedulerConfig = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: 5000
  burst: 5000
leaderElection:
  leaderElect: false
profiles:
  - schedulerName: gantry-scheduler
    plugins:
      multiPoint:
        enabled:
          - name: GantryDRA
            weight: 10
        disabled:
          - name: DynamicResources
      score:
        enabled:
          - name: GantryDRA
            weight: 10
        disabled:
          - name: "*"
    pluginConfig:
      - name: GantryDRA
        args:
%s`

const (
	nicDriver = "nic.example.com"
	nicClass  = "nic.example.com"
	gpuClass  = "gpu.gantry.dev"
)

// TestDRAEndToEnd runs the real gantry-scheduler with GantryDRA against a
// real kube-apiserver and etcd (resource.k8s.io/v1, consumable capacity on
// by default). The test publishes the ResourceSlices a node agent would:
// four Gantry cards per node and six exclusive NICs of a second driver.
func TestDRAEndToEnd(t *testing.T) {
	cp := harness.Start(t)
	ctx := context.Background()
	c := cp.Client
	startDRAScheduler(t, cp, "")

	// What manifests/dra ships: the DeviceClasses, and the claim templates
	// in the workload's namespace.
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	require.NoError(t, cp.ApplyFiles(ctx, filepath.Join(root, "manifests/dra/deviceclasses.yaml")))
	templates, err := harness.ReadManifests(filepath.Join(root, "manifests/dra/claimtemplates.yaml"))
	require.NoError(t, err)
	for _, o := range templates {
		o.SetNamespace("default")
	}
	require.NoError(t, cp.Apply(ctx, templates...))
	_, err = c.ResourceV1().DeviceClasses().Create(ctx, &resourceapi.DeviceClass{
		ObjectMeta: metav1.ObjectMeta{Name: nicClass},
		Spec: resourceapi.DeviceClassSpec{Selectors: []resourceapi.DeviceSelector{{CEL: &resourceapi.CELDeviceSelector{
			Expression: fmt.Sprintf("device.driver == %q", nicDriver),
		}}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	nodes := []string{"dra-a", "dra-b", "dra-c"}
	for _, n := range nodes {
		_, err := harness.CreateReadyNode(ctx, c, harness.NewKWOKNode(n, nil))
		require.NoError(t, err)
		_, err = c.ResourceV1().ResourceSlices().Create(ctx, dratest.MakeSlice(n).GPUs("A100", 4, 80<<10).Obj(), metav1.CreateOptions{})
		require.NoError(t, err)
		nic := &resourceapi.ResourceSlice{
			ObjectMeta: metav1.ObjectMeta{Name: n + "-nic"},
			Spec:       resourceapi.ResourceSliceSpec{Driver: nicDriver, NodeName: ptr.To(n), Pool: resourceapi.ResourcePool{Name: n, ResourceSliceCount: 1}},
		}
		for i := 0; i < 6; i++ {
			nic.Spec.Devices = append(nic.Spec.Devices, resourceapi.Device{Name: fmt.Sprintf("nic-%d", i)})
		}
		_, err = c.ResourceV1().ResourceSlices().Create(ctx, nic, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	args, err := scheme.DecodeArgs([]byte(draArgs), field.NewPath("args"))
	require.NoError(t, err)
	fgd, err := policy.New(args.Policy, policy.Options{Workload: policy.Workload(args.Workload)})
	require.NoError(t, err)

	t.Run("one at a time, each share lands on FGD's node and card", func(t *testing.T) {
		for i, pct := range []int64{30, 50, 20, 70, 40, 10, 60, 25, 100, 45, 15} {
			name := fmt.Sprintf("seq-%d", i)
			withNIC := i%2 == 0
			// What FGD prefers, from the objects in the API as the scheduler
			// sees them.
			cluster := readCluster(t, cp)
			req := share.Simple(device.GPU, 1, int(pct))
			best, scores := int64(-1), map[string]int64{}
			for _, n := range nodes {
				_, s, ok := fgd.Score(host(cluster.Nodes[n].State), req)
				if ok {
					scores[n] = s
					best = max(best, s)
				}
			}
			createSharePod(t, cp, name, pct, withNIC, "")
			node, gpus, nics := waitAllocated(t, cp, name, withNIC)
			require.Len(t, gpus, 1)
			assert.Equal(t, best, scores[node], "%s (%d%%) went to %s, FGD scores %v", name, pct, node, scores)
			n := cluster.Nodes[node]
			want := n.DeviceName(coredra.DeviceOrder(host(n.State), req, fgd)[0])
			assert.Equal(t, want, gpus[0].Device, "%s (%d%%) on %s", name, pct, node)
			consumed := gpus[0].ConsumedCapacity[contract.DRACapacityPercent]
			assert.Equal(t, pct, consumed.Value())
			if withNIC {
				require.Len(t, nics, 1)
			}
		}
	})

	t.Run("many pods at once: every card stays within 100 percent, the other driver's claims allocate", func(t *testing.T) {
		sizes := []int64{10, 25, 50, 10, 25, 10, 30, 25, 10, 50, 20, 10, 25, 5, 10, 25}
		var wg sync.WaitGroup
		for i, pct := range sizes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				createSharePod(t, cp, fmt.Sprintf("burst-%d", i), pct, i%3 == 0, "")
			}()
		}
		wg.Wait()
		for i := range sizes {
			waitAllocated(t, cp, fmt.Sprintf("burst-%d", i), i%3 == 0)
		}
		cluster := readCluster(t, cp)
		require.Empty(t, cluster.Problems)
		total := 0
		for _, n := range nodes {
			for _, d := range cluster.Nodes[n].State.Devices {
				assert.LessOrEqual(t, d.Used, device.UnitsPerDevice, "card %s of %s", d.ID, n)
				total += d.Used
			}
		}
		assert.Equal(t, 465+340, total, "units held over all cards")
		// No NIC is held twice.
		claims, err := c.ResourceV1().ResourceClaims("default").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		held := map[string]string{}
		for _, cl := range claims.Items {
			if cl.Status.Allocation == nil {
				continue
			}
			for _, r := range cl.Status.Allocation.Devices.Results {
				if r.Driver != nicDriver {
					continue
				}
				key := r.Pool + "/" + r.Device
				assert.Empty(t, held[key], "NIC %s held by %s and %s", key, held[key], cl.Name)
				held[key] = cl.Name
			}
		}
		assert.Len(t, held, 6+6)
	})

	t.Run("where FGD's card is not first-fit's, the pod gets FGD's", func(t *testing.T) {
		// A fourth node whose first two cards already hold 60 and 75
		// percent (claims allocated before, as a previous scheduler left
		// them). For 25 percent, first-fit takes gpu-0; FGD fills gpu-1.
		const node = "dra-trap"
		_, err := harness.CreateReadyNode(ctx, c, harness.NewKWOKNode(node, nil))
		require.NoError(t, err)
		_, err = c.ResourceV1().ResourceSlices().Create(ctx, dratest.MakeSlice(node).GPUs("A100", 4, 80<<10).Obj(), metav1.CreateOptions{})
		require.NoError(t, err)
		for dev, pct := range map[string]int64{"gpu-0": 60, "gpu-1": 75} {
			cl, err := c.ResourceV1().ResourceClaims("default").Create(ctx, dratest.MakeClaim("default", "held-"+dev).Share("gpu", gpuClass, pct).Obj(), metav1.CreateOptions{})
			require.NoError(t, err)
			cl.Status.Allocation = &resourceapi.AllocationResult{Devices: resourceapi.DeviceAllocationResult{Results: []resourceapi.DeviceRequestAllocationResult{{
				Request: "gpu", Driver: contract.DRADriver, Pool: node, Device: dev, ShareID: ptr.To(uuid.NewUUID()),
				ConsumedCapacity: map[resourceapi.QualifiedName]resource.Quantity{contract.DRACapacityPercent: *resource.NewQuantity(pct, resource.DecimalSI)},
			}}}}
			_, err = c.ResourceV1().ResourceClaims("default").UpdateStatus(ctx, cl, metav1.UpdateOptions{})
			require.NoError(t, err)
		}
		cluster := readCluster(t, cp)
		n := cluster.Nodes[node]
		require.NotNil(t, n)
		want := n.DeviceName(coredra.DeviceOrder(host(n.State), share.Simple(device.GPU, 1, 25), fgd)[0])
		require.NotEqual(t, "gpu-0", want, "FGD would take first-fit's card here; the case does not tell them apart")
		require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			cl, err := c.ResourceV1().ResourceClaims("default").Get(ctx, "held-gpu-1", metav1.GetOptions{})
			return err == nil && cl.Status.Allocation != nil, nil
		}))
		createSharePod(t, cp, "trap", 25, false, node)
		got, gpus, _ := waitAllocated(t, cp, "trap", false)
		require.Equal(t, node, got)
		require.Len(t, gpus, 1)
		assert.Equal(t, want, gpus[0].Device)
	})

	t.Run("a claim asking more than a card gets a clear reason", func(t *testing.T) {
		createSharePod(t, cp, "too-big", 150, false, "")
		note := waitFailedScheduling(t, cp, "too-big")
		assert.Contains(t, note, `ResourceClaim default/too-big-gpu, request "gpu": asks 150 of capacity "percent" of class gpu.gantry.dev; a Gantry share is 1..100 percent of one device`)
	})
}

// startDRAScheduler runs bin/gantry-scheduler with draSchedulerConfig, as
// the identity of kubeconfig (the harness's admin when empty).
func startDRAScheduler(t *testing.T, cp *harness.ControlPlane, kubeconfig string) *harness.Process {
	t.Helper()
	if kubeconfig == "" {
		kubeconfig = cp.KubeconfigPath
	}
	cfg := filepath.Join(t.TempDir(), "scheduler-config.yaml")
	indented := "          " + strings.ReplaceAll(strings.TrimSpace(draArgs), "\n", "\n          ") + "\n"
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(draSchedulerConfig, kubeconfig, indented)), 0o600))
	return startSchedulerProcess(t, cfg, kubeconfig)
}

// host gives a node state the host resources the scheduler sees on the
// test's nodes (32 CPUs, 128 GiB, nothing requested).
func host(st *state.NodeState) *state.NodeState {
	c := st.Clone()
	return c.WithHost(32000, 32000, 128<<10)
}

// readCluster builds core's view from the API's slices and claims.
func readCluster(t *testing.T, cp *harness.ControlPlane) *coredra.Cluster {
	t.Helper()
	ctx := context.Background()
	sl, err := cp.Client.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	cl, err := cp.Client.ResourceV1().ResourceClaims("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	slices := make([]*resourceapi.ResourceSlice, len(sl.Items))
	for i := range sl.Items {
		slices[i] = &sl.Items[i]
	}
	claims := make([]*resourceapi.ResourceClaim, len(cl.Items))
	for i := range cl.Items {
		claims[i] = &cl.Items[i]
	}
	return coredra.Build(slices, claims)
}

// createSharePod creates claim <name>-gpu asking pct percent of one Gantry
// GPU (and <name>-nic asking one NIC), then a pod using them, pinned to
// node when it is not empty.
func createSharePod(t *testing.T, cp *harness.ControlPlane, name string, pct int64, withNIC bool, node string) {
	t.Helper()
	ctx := context.Background()
	claims := []*resourceapi.ResourceClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-gpu", Namespace: "default"},
		Spec: resourceapi.ResourceClaimSpec{Devices: resourceapi.DeviceClaim{Requests: []resourceapi.DeviceRequest{{
			Name: "gpu",
			Exactly: &resourceapi.ExactDeviceRequest{DeviceClassName: gpuClass, Capacity: &resourceapi.CapacityRequirements{
				Requests: map[resourceapi.QualifiedName]resource.Quantity{contract.DRACapacityPercent: *resource.NewQuantity(pct, resource.DecimalSI)},
			}},
		}}}},
	}}
	if withNIC {
		claims = append(claims, &resourceapi.ResourceClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-nic", Namespace: "default"},
			Spec: resourceapi.ResourceClaimSpec{Devices: resourceapi.DeviceClaim{Requests: []resourceapi.DeviceRequest{{
				Name: "nic", Exactly: &resourceapi.ExactDeviceRequest{DeviceClassName: nicClass},
			}}}},
		})
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			SchedulerName: contract.SchedulerName,
			Containers:    []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	if node != "" {
		pod.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
	}
	for _, cl := range claims {
		_, err := cp.Client.ResourceV1().ResourceClaims("default").Create(ctx, cl, metav1.CreateOptions{})
		require.NoError(t, err)
		ref := strings.TrimPrefix(cl.Name, name+"-")
		pod.Spec.ResourceClaims = append(pod.Spec.ResourceClaims, corev1.PodResourceClaim{Name: ref, ResourceClaimName: ptr.To(cl.Name)})
		pod.Spec.Containers[0].Resources.Claims = append(pod.Spec.Containers[0].Resources.Claims, corev1.ResourceClaim{Name: ref})
	}
	_, err := cp.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
}

// waitAllocated waits until the pod is bound and its claims allocated, and
// returns its node and the results for Gantry and NIC devices.
func waitAllocated(t *testing.T, cp *harness.ControlPlane, name string, withNIC bool) (string, []resourceapi.DeviceRequestAllocationResult, []resourceapi.DeviceRequestAllocationResult) {
	t.Helper()
	var node string
	var gpus, nics []resourceapi.DeviceRequestAllocationResult
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		pod, err := cp.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil || pod.Spec.NodeName == "" {
			return false, nil
		}
		node = pod.Spec.NodeName
		gpus, nics = nil, nil
		for _, suffix := range []string{"-gpu", "-nic"} {
			if suffix == "-nic" && !withNIC {
				continue
			}
			cl, err := cp.Client.ResourceV1().ResourceClaims("default").Get(ctx, name+suffix, metav1.GetOptions{})
			if err != nil || cl.Status.Allocation == nil {
				return false, nil
			}
			for _, r := range cl.Status.Allocation.Devices.Results {
				require.Equal(t, node, r.Pool, "claim %s allocated off the pod's node", cl.Name)
				if r.Driver == contract.DRADriver {
					gpus = append(gpus, r)
				} else {
					nics = append(nics, r)
				}
			}
		}
		return true, nil
	})
	require.NoError(t, err, "pod %s not bound with allocated claims", name)
	sort.Slice(gpus, func(i, j int) bool { return gpus[i].Device < gpus[j].Device })
	return node, gpus, nics
}

func waitFailedScheduling(t *testing.T, cp *harness.ControlPlane, name string) string {
	t.Helper()
	var note string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := cp.Client.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, ev := range evs.Items {
			if ev.Regarding.Name == name && ev.Reason == "FailedScheduling" {
				note = ev.Note
				return true, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err, "no FailedScheduling event for %s", name)
	return note
}
