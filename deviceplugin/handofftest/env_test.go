package handofftest

import (
	"context"
	"fmt"
	"math/rand"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	oci "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	testclock "k8s.io/utils/clock/testing"
	cdiapi "tags.cncf.io/container-device-interface/pkg/cdi"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/agent"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/discovery/nvmltest"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
	"github.com/gantry-dev/gantry/deviceplugin/mps"
)

const (
	nodeName = "gpu-node-1"
	gpus     = 8
	// memMiB is an A100-SXM4-40GB's memory as NVML reports it.
	memMiB = 40 * 1024
)

// env is one node: the API server (a fake clientset), kubelet (real device
// manager and PodResources server), the NVML mock, and the agent.
type env struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	pods   corelisters.PodLister
	nvml   *nvmltest.Server
	clock  *testclock.FakeClock
	k      *kubelet
	prDir  string
	steer  bool
	events *record.FakeRecorder
	// specDir is where the agent writes its CDI specs; toolkitDir holds
	// the NVIDIA toolkit's spec (as nvidia-ctk writes it, by UUID).
	specDir, toolkitDir string
	cdiCache            *cdiapi.Cache
	// mps, when set, runs the agent's MPS daemon (a fake control binary).
	mps *mps.Config
	// metrics are the agent's metrics (kept across agent restarts), and
	// metricsURL serves them as the agent's /metrics endpoint does.
	metrics    *metrics.Metrics
	metricsURL string

	stopAgent func()
}

func newEnv(t *testing.T, steerWithPodResources bool) *env {
	return newEnvWith(t, steerWithPodResources, nil)
}

// newMPSEnv is newEnv with the agent running MPS for every GPU, through
// the fake nvidia-cuda-mps-control of deviceplugin/mps/testdata.
func newMPSEnv(t *testing.T) *env {
	root := t.TempDir()
	bin := filepath.Join(root, "nvidia-cuda-mps-control")
	out, err := exec.Command("go", "build", "-o", bin, "../mps/testdata/fakemps").CombinedOutput()
	require.NoError(t, err, string(out))
	return newEnvWith(t, true, &mps.Config{ControlBinary: bin, PipeDir: filepath.Join(root, "pipe"), LogDir: filepath.Join(root, "log"),
		ShmDir: filepath.Join(root, "shm"), HealthInterval: 20 * time.Millisecond, BackoffInitial: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
}

func newEnvWith(t *testing.T, steerWithPodResources bool, mpsCfg *mps.Config) *env {
	requireKubeletDir(t)
	logger := ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(1)))
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	t.Cleanup(cancel)
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName, Labels: map[string]string{"kubernetes.io/hostname": nodeName}}})
	factory := informers.NewSharedInformerFactory(client, 0)
	e := &env{t: t, ctx: ctx, client: client, pods: factory.Core().V1().Pods().Lister(), nvml: nvmltest.NewDGXA100(),
		clock: testclock.NewFakeClock(time.Unix(1_700_000_000, 0)), prDir: t.TempDir(), steer: steerWithPodResources,
		events: record.NewFakeRecorder(10000), specDir: t.TempDir(), toolkitDir: t.TempDir(), mps: mpsCfg}
	writeToolkitSpec(t, e.toolkitDir)
	reg := k8smetrics.NewKubeRegistry()
	e.metrics = metrics.New().Register(reg)
	srv := httptest.NewServer(k8smetrics.HandlerFor(reg, k8smetrics.HandlerOpts{}))
	t.Cleanup(srv.Close)
	e.metricsURL = srv.URL + "/metrics"
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	e.k = startKubelet(t, e.prDir, nil, nil)
	t.Cleanup(func() { e.k.stop() })
	e.startAgent()
	e.k.waitForGPUs(gpus*100, gpus*100)
	return e
}

// startAgent starts the node agent, as the DaemonSet's container would.
func (e *env) startAgent() {
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	cfg := agent.Config{
		Client: e.client, Node: nodeName,
		Backends: []discovery.Backend{discovery.NewNVML(e.nvml, discovery.WithClock(e.clock),
			discovery.WithEventWait(time.Millisecond), discovery.WithRecoveryWindow(10*time.Minute))},
		PodResourcesSocket:    filepath.Join(e.prDir, "kubelet.sock"),
		SteerWithPodResources: e.steer,
		ReconcileInterval:     50 * time.Millisecond,
		Heartbeat:             time.Hour,
		WatchInterval:         20 * time.Millisecond,
		Recorder:              e.events,
		Pods:                  e.pods,
		CDI:                   &cdi.Config{Dir: e.specDir, ToolkitDirs: []string{e.toolkitDir}},
		MPS:                   e.mps,
		NVML:                  e.nvml,
		Metrics:               e.metrics,
	}
	go func() { done <- agent.Run(ctx, cfg) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				err = fmt.Errorf("agent did not stop within 20s")
			}
		})
		return err
	}
	e.stopAgent = func() { require.NoError(e.t, stop()) }
	e.t.Cleanup(func() { _ = stop() })
}

// podSpec is a pod to schedule: the percent each container asks for.
type podSpec struct {
	name       string
	containers []int
}

// schedule plays gantry-scheduler: for each pod it picks devices at random
// among those with room (a share below 100 on one device, whole devices
// otherwise), writes gantry.dev/allocation, binds the pod and creates it.
// Pods that do not fit are not created. It returns the created pods in
// creation order.
func (e *env) schedule(rng *rand.Rand, specs []podSpec, used []int) []*corev1.Pod {
	e.t.Helper()
	var out []*corev1.Pod
	for i, s := range specs {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: s.name, UID: types.UID("uid-" + s.name),
				CreationTimestamp: metav1.NewTime(time.Unix(int64(1_700_000_000+i), 0)), Annotations: map[string]string{}},
			Spec:   corev1.PodSpec{SchedulerName: contract.SchedulerName, NodeName: nodeName},
			Status: corev1.PodStatus{Phase: corev1.PodPending},
		}
		a := contract.Allocation{Node: nodeName}
		trial := append([]int(nil), used...)
		ok := true
		for ci, units := range s.containers {
			name := fmt.Sprintf("c%d", ci)
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: name, Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{contract.ResourceGPUPercent: *resource.NewQuantity(int64(units), resource.DecimalSI)}}})
			ca := contract.ContainerAllocation{Container: name, Kind: device.GPU}
			for _, d := range pick(rng, trial, units) {
				share := min(units, 100)
				trial[d] += share
				ca.Devices = append(ca.Devices, contract.DeviceShare{ID: nvmltest.UUID(d), Index: d, Units: share})
			}
			if len(ca.Devices) == 0 {
				ok = false
				break
			}
			a.Containers = append(a.Containers, ca)
		}
		if !ok {
			continue
		}
		copy(used, trial)
		v, err := contract.EncodeAllocation(a)
		require.NoError(e.t, err)
		pod.Annotations[contract.AnnotationAllocation] = v
		_, err = e.client.CoreV1().Pods("default").Create(e.ctx, pod, metav1.CreateOptions{})
		require.NoError(e.t, err)
		out = append(out, pod)
	}
	require.Eventually(e.t, func() bool {
		for _, p := range out {
			if _, err := e.pods.Pods("default").Get(p.Name); err != nil {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond)
	return out
}

// pick returns random devices for units: one with room for a share below
// 100, or units/100 fully free ones; nil when none fit.
func pick(rng *rand.Rand, used []int, units int) []int {
	var fit []int
	need := min(units, 100)
	for d, u := range used {
		if 100-u >= need {
			fit = append(fit, d)
		}
	}
	n := max(1, units/100)
	if len(fit) < n {
		return nil
	}
	rng.Shuffle(len(fit), func(i, j int) { fit[i], fit[j] = fit[j], fit[i] })
	out := fit[:n]
	sort.Ints(out)
	return out
}

// truth is what kubelet gave one container.
type truth struct {
	pod       *corev1.Pod
	container string
	units     map[string]int // device ID -> slots
}

// admitAll admits pods one at a time, as kubelet's sync loop does, and
// after each checks the invariants over everything admitted so far. It
// returns the admission errors by pod name.
func (e *env) admitAll(pods []*corev1.Pod, admitted *[]*corev1.Pod) map[string]error {
	e.t.Helper()
	errs := map[string]error{}
	for _, p := range pods {
		if err := e.k.admit(e.ctx, p); err != nil {
			errs[p.Name] = err
			continue
		}
		*admitted = append(*admitted, p)
		e.checkContainers(p)
		e.checkNoOvercommit(*admitted)
	}
	return errs
}

// checkContainers checks that each container's runtime options follow from
// the slot IDs kubelet gave it.
func (e *env) checkContainers(p *corev1.Pod) {
	e.t.Helper()
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		ids := e.k.devices(p, c.Name)
		want := c.Resources.Limits[contract.ResourceGPUPercent]
		require.Len(e.t, ids, int(want.Value()), "%s/%s", p.Name, c.Name)
		devs, units, err := contract.GroupSlots(ids)
		require.NoError(e.t, err)
		sort.Strings(devs)
		if want.Value() < 100 {
			require.Len(e.t, devs, 1, "%s/%s: a share must sit on one device", p.Name, c.Name)
		}
		e.checkRunOptions(p, c, devs, units)
	}
}

// checkRunOptions checks what the runtime gets for a container: the CDI
// devices of exactly its cards (the toolkit's and Gantry's, in index
// order) and no variable that selects devices; then it injects them the
// way the runtime does, after the container's own environment, and checks
// the device nodes and the limits that result.
func (e *env) checkRunOptions(p *corev1.Pod, c *corev1.Container, devs []string, units map[string]int) {
	e.t.Helper()
	opts, err := e.k.mgr.GetDeviceRunContainerOptions(e.ctx, p, c)
	require.NoError(e.t, err)
	for _, env := range opts.Envs {
		require.NotEqual(e.t, "NVIDIA_VISIBLE_DEVICES", env.Name, "%s/%s: devices are never selected by a variable", p.Name, c.Name)
	}
	sort.Slice(devs, func(i, j int) bool { return indexOf(devs[i]) < indexOf(devs[j]) })
	var want, wantNodes []string
	for _, d := range devs {
		name := d
		if units[d] < 100 {
			name = fmt.Sprintf("%s-p%d", d, units[d])
		}
		want = append(want, "nvidia.com/gpu="+d, "gantry.dev/gpu="+name)
		wantNodes = append(wantNodes, fmt.Sprintf("/dev/nvidia%d", indexOf(d)))
	}
	var got []string
	for _, d := range opts.CDIDevices {
		got = append(got, d.Name)
	}
	require.Equal(e.t, want, got, "%s/%s: CDI devices", p.Name, c.Name)

	if e.cdiCache == nil {
		e.cdiCache, err = cdiapi.NewCache(cdiapi.WithSpecDirs(e.toolkitDir, e.specDir), cdiapi.WithAutoRefresh(false))
		require.NoError(e.t, err)
	}
	var podEnv []string
	for _, v := range c.Env {
		podEnv = append(podEnv, v.Name+"="+v.Value)
	}
	spec := &oci.Spec{Process: &oci.Process{Env: podEnv}, Linux: &oci.Linux{}}
	_, err = e.cdiCache.InjectDevices(spec, got...)
	require.NoError(e.t, err, "%s/%s", p.Name, c.Name)
	var nodes []string
	for _, d := range spec.Linux.Devices {
		if d.Path != "/dev/nvidiactl" {
			nodes = append(nodes, d.Path)
		}
	}
	sort.Strings(nodes)
	sort.Strings(wantNodes)
	require.Equal(e.t, wantNodes, nodes, "%s/%s: device nodes", p.Name, c.Name)
	env := map[string]string{}
	for _, kv := range spec.Process.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	require.Equal(e.t, "void", env["NVIDIA_VISIBLE_DEVICES"], "%s/%s: the pod's own value selects nothing", p.Name, c.Name)
	if len(devs) == 1 {
		u := units[devs[0]]
		require.Equal(e.t, fmt.Sprint(min(u, 100)), env["GANTRY_DEVICE_SHARE_PERCENT"], "%s/%s", p.Name, c.Name)
		require.Equal(e.t, fmt.Sprint(memMiB*min(u, 100)/100), env["GANTRY_DEVICE_MEMORY_LIMIT_MIB"], "%s/%s", p.Name, c.Name)
	}
	var mounts []string
	for _, m := range spec.Mounts {
		mounts = append(mounts, m.Destination)
	}
	sort.Strings(mounts)
	if e.mps == nil {
		require.Empty(e.t, mounts, "%s/%s", p.Name, c.Name)
		for k := range env {
			require.False(e.t, strings.HasPrefix(k, "CUDA_MPS_"), "%s/%s: %s without MPS", p.Name, c.Name, k)
		}
		return
	}
	require.Equal(e.t, []string{"/dev/shm", e.mps.PipeDir}, mounts, "%s/%s: the daemon's pipe and shm", p.Name, c.Name)
	require.Equal(e.t, e.mps.PipeDir, env["CUDA_MPS_PIPE_DIRECTORY"])
	if len(devs) == 1 && units[devs[0]] < 100 {
		u := units[devs[0]]
		require.Equal(e.t, fmt.Sprint(u), env["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"], "%s/%s", p.Name, c.Name)
		require.Equal(e.t, fmt.Sprintf("0=%dM", memMiB*u/100), env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"], "%s/%s", p.Name, c.Name)
	} else {
		require.NotContains(e.t, env, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "%s/%s: whole cards bypass the limits", p.Name, c.Name)
		require.NotContains(e.t, env, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", "%s/%s", p.Name, c.Name)
	}
}

// writeToolkitSpec writes the NVIDIA toolkit's spec for the node's GPUs,
// named by UUID; the host side of every device node is /dev/null, which
// the runtime (and the CDI library) can stat here.
func writeToolkitSpec(t *testing.T, dir string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("cdiVersion: 0.6.0\nkind: nvidia.com/gpu\ncontainerEdits:\n  deviceNodes:\n  - path: /dev/nvidiactl\n    hostPath: /dev/zero\ndevices:\n")
	for i := 0; i < gpus; i++ {
		fmt.Fprintf(&b, "- name: %s\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia%d\n      hostPath: /dev/null\n", nvmltest.UUID(i), i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nvidia.yaml"), []byte(b.String()), 0o644))
}

// checkNoOvercommit checks, from kubelet's own records, that no slot is
// held twice and no device holds more than 100 %.
func (e *env) checkNoOvercommit(admitted []*corev1.Pod) map[string]int {
	e.t.Helper()
	perDevice := map[string]int{}
	seen := map[string]string{}
	for _, p := range admitted {
		for _, c := range p.Spec.Containers {
			for _, id := range e.k.devices(p, c.Name) {
				if other, dup := seen[id]; dup {
					e.t.Fatalf("slot %s held by %s and %s/%s", id, other, p.Name, c.Name)
				}
				seen[id] = p.Name + "/" + c.Name
				dev, _, err := contract.ParseSlotID(id)
				require.NoError(e.t, err)
				perDevice[dev]++
			}
		}
	}
	for d, u := range perDevice {
		require.LessOrEqual(e.t, u, 100, "device %s over-committed", d)
	}
	return perDevice
}

// verifyRecords waits until every admitted pod carries, in
// gantry.dev/allocated, exactly what kubelet gave it; checks that the
// scheduler's view (contract.AllocationOf) then counts exactly kubelet's
// per-device totals; and returns how many containers got the device the
// scheduler chose, listing the others.
func (e *env) verifyRecords(admitted []*corev1.Pod) (hits int, misses []string) {
	e.t.Helper()
	var lastErr string
	ok := assertEventually(func() bool {
		for _, p := range admitted {
			got, err := e.client.CoreV1().Pods("default").Get(e.ctx, p.Name, metav1.GetOptions{})
			require.NoError(e.t, err)
			want := e.expected(p)
			v, has := got.Annotations[contract.AnnotationAllocated]
			if !has || v != want {
				lastErr = fmt.Sprintf("pod %s: recorded %q, kubelet gave %q", p.Name, v, want)
				return false
			}
		}
		return true
	}, 20*time.Second)
	require.True(e.t, ok, lastErr)

	kubeletTotals := e.checkNoOvercommit(admitted)
	schedulerTotals := map[string]int{}
	for _, p := range admitted {
		got, err := e.client.CoreV1().Pods("default").Get(e.ctx, p.Name, metav1.GetOptions{})
		require.NoError(e.t, err)
		a, src, ok, err := contract.AllocationOf(got)
		require.NoError(e.t, err)
		require.True(e.t, ok)
		require.Equal(e.t, contract.FromNode, src, "the node's record wins")
		for id, u := range a.Units() {
			schedulerTotals[id] += u
		}
		intent, err := contract.DecodeAllocation(got.Annotations[contract.AnnotationAllocation])
		require.NoError(e.t, err)
		require.Len(e.t, a.Containers, len(p.Spec.Containers), "one record per container")
		for _, c := range a.Containers {
			want, _ := intent.Container(c.Container, c.Kind)
			if fmt.Sprint(want.Devices) == fmt.Sprint(c.Devices) {
				hits++
			} else {
				misses = append(misses, fmt.Sprintf("%s/%s: scheduler chose %v, kubelet gave %v", p.Name, c.Container, want.Devices, c.Devices))
			}
		}
	}
	require.Equal(e.t, kubeletTotals, schedulerTotals, "the scheduler's accounting equals kubelet's")
	return hits, misses
}

// expected is the record kubelet's devices for p imply.
func (e *env) expected(p *corev1.Pod) string {
	a := contract.Allocation{Node: nodeName}
	for _, c := range p.Spec.Containers {
		ids := e.k.devices(p, c.Name)
		devs, units, err := contract.GroupSlots(ids)
		require.NoError(e.t, err)
		ca := contract.ContainerAllocation{Container: c.Name, Kind: device.GPU}
		for _, d := range devs {
			ca.Devices = append(ca.Devices, contract.DeviceShare{ID: d, Index: indexOf(d), Units: units[d]})
		}
		sort.Slice(ca.Devices, func(i, j int) bool { return ca.Devices[i].Index < ca.Devices[j].Index })
		a.Containers = append(a.Containers, ca)
	}
	v, err := contract.EncodeAllocation(a)
	require.NoError(e.t, err)
	return v
}

func indexOf(uuid string) int {
	for i := 0; i < gpus; i++ {
		if nvmltest.UUID(i) == uuid {
			return i
		}
	}
	return -1
}

func assertEventually(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// sameSize returns n pods of one container asking for units each.
func sameSize(prefix string, n, units int) []podSpec {
	out := make([]podSpec, n)
	for i := range out {
		out[i] = podSpec{name: fmt.Sprintf("%s-%03d", prefix, i), containers: []int{units}}
	}
	return out
}

func shuffled(rng *rand.Rand, pods []*corev1.Pod) []*corev1.Pod {
	out := append([]*corev1.Pod(nil), pods...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
