package playground

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/test/harness"
	"github.com/gantry-dev/gantry/test/manifest"
)

const zoneLabel = corev1.LabelTopologyZone

// TestPlaygroundSmoke runs what the README shows: make playground, apply
// examples/, watch the pods bind and nodes appear, delete the examples
// (their pods go with them), make playground-down.
func TestPlaygroundSmoke(t *testing.T) {
	root, err := harness.RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	// make playground first builds what is stale (make build tools):
	// seconds after make test's own build, longer on a busy machine.
	upCtx, upCancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer upCancel()

	up := exec.Command("make", "playground", "PLAYGROUND_DIR="+dir)
	up.Dir = root
	up.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lines{}
	up.Stdout, up.Stderr = out, out
	require.NoError(t, up.Start())
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = exec.Command("make", "-C", root, "playground-down", "PLAYGROUND_DIR="+dir).Run()
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				// Still building, or stuck: end make and everything under it.
				_ = syscall.Kill(-up.Process.Pid, syscall.SIGTERM)
				<-exited
			}
		}
		if t.Failed() {
			t.Logf("make playground output:\n%s", out)
		}
	})

	// Up: the ready line, a kubeconfig, the node groups' minimum nodes.
	err = wait.PollUntilContextCancel(upCtx, 200*time.Millisecond, true, func(context.Context) (bool, error) {
		select {
		case err := <-exited:
			return false, fmt.Errorf("make playground exited early: %v", err)
		default:
		}
		return out.has("playground: ready"), nil
	})
	require.NoError(t, err, "make playground never printed its ready line")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err, "the playground wrote %s", kubeconfig)
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	waitFor(ctx, t, "one node per node group (minSize 1)", func() (bool, error) {
		nodes := readyNodes(ctx, client)
		return len(nodes["T4"]) >= 1 && len(nodes["A100"]) >= 1, nil
	})

	// gantry-webhook is in the path of pod creation: it names
	// gantry-scheduler on a pod that asks for a share and names no
	// scheduler, and refuses a malformed share with its field path.
	named, err := client.CoreV1().Pods("default").Create(ctx, sharePod("webhook-named", "30"), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, contract.SchedulerName, named.Spec.SchedulerName, "set by the mutating webhook")
	require.NoError(t, client.CoreV1().Pods("default").Delete(ctx, named.Name, metav1.DeleteOptions{}))
	_, err = client.CoreV1().Pods("default").Create(ctx, sharePod("webhook-refused", "150"), metav1.CreateOptions{})
	require.ErrorContains(t, err, "spec.containers[0].resources.limits[gantry.dev/gpu-percent]", "refused by the validating webhook")

	// kubectl apply -f examples/
	objs, err := manifest.ReadDir(filepath.Join(root, "examples"))
	require.NoError(t, err)
	kubectl, err := manifest.NewApplier(cfg, "kubectl", metav1.NamespaceDefault)
	require.NoError(t, err)
	require.NoError(t, kubectl.Apply(ctx, objs...))

	waitFor(ctx, t, "every example pod but fits-nowhere bound", func() (bool, error) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		want := map[string]int{"inference": 4, "batch-t4": 6, "train-a100": 1}
		got := map[string]int{}
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" {
				got[app(&p)]++
			}
		}
		for k, n := range want {
			if got[k] < n {
				return false, nil
			}
		}
		return true, nil
	})

	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	byName := map[string]*corev1.Node{}
	for i := range nodes.Items {
		byName[nodes.Items[i].Name] = &nodes.Items[i]
	}
	zones := map[string]bool{}
	t4Nodes := map[string]bool{}
	for _, p := range pods.Items {
		n := byName[p.Spec.NodeName]
		switch app(&p) {
		case "inference":
			require.NotNil(t, n)
			zones[n.Labels[zoneLabel]] = true
		case "train-a100":
			require.NotNil(t, n)
			require.Equal(t, "A100", n.Labels[contract.LabelGPUModel], "the training pod's model constraint")
		case "batch-t4":
			require.NotNil(t, n)
			require.Equal(t, "T4", n.Labels[contract.LabelGPUModel])
			t4Nodes[n.Name] = true
		case "fits-nowhere":
			require.Empty(t, p.Spec.NodeName, "a 16-GPU pod fits no node group")
		}
	}
	require.Len(t, zones, 2, "inference replicas spread across both zones")
	require.GreaterOrEqual(t, len(t4Nodes), 2, "the autoscaler added T4 nodes for batch-t4 (6 whole GPUs, 4 per node)")
	for _, n := range nodes.Items {
		require.LessOrEqual(t, n.Status.Allocatable.Name(contract.ResourceGPUPercent, "").Value(), int64(800), "no node was bought for fits-nowhere")
	}
	waitFor(ctx, t, "fits-nowhere reported unschedulable", func() (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "fits-nowhere", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true, nil
			}
		}
		return false, nil
	})

	// kubectl gantry devices shows who holds which card.
	devices, err := exec.Command(harness.BinaryPath(t, "kubectl-gantry"), "devices", "--kubeconfig="+kubeconfig).CombinedOutput()
	require.NoError(t, err, "%s", devices)
	require.Contains(t, string(devices), "train-a100")

	// kubectl gantry why and summary, against the same cluster.
	why, err := exec.Command(harness.BinaryPath(t, "kubectl-gantry"), "why", "fits-nowhere", "--kubeconfig="+kubeconfig).CombinedOutput()
	require.NoError(t, err, "%s", why)
	require.Contains(t, string(why), `Pod default/fits-nowhere asks for container "big": 16 whole GPU.`)
	require.Regexp(t, `\n\d+ +TooFewDevices +other hardware`, string(why), "every node lacks GPUs, and only other hardware helps")
	summary, err := exec.Command(harness.BinaryPath(t, "kubectl-gantry"), "summary", "--kubeconfig="+kubeconfig).CombinedOutput()
	require.NoError(t, err, "%s", summary)
	require.Regexp(t, `gpu +A100 +1 +8 +0 +8\.00 +2\.50 +`, string(summary), "train-a100's two GPUs and two inference shares on the A100 node")

	// The sweeps' Indexed Jobs (inflation, replay with the autoscaler,
	// sharing gain), as gantry-sim sweep writes them from the repository
	// root, are accepted by the API server.
	for _, sw := range []struct {
		grid, name string
		cells      int32
	}{
		{"grid.yaml", "gantry-sim-sweep", 360},
		{"replay-autoscaler-grid.yaml", "gantry-sim-autoscale", 18},
		{"sharing-gain-grid.yaml", "gantry-sim-sharing", 36},
	} {
		gen := exec.Command(harness.BinaryPath(t, "gantry-sim"), "sweep", "--grid", filepath.Join("examples", "sweep", sw.grid), "--name", sw.name)
		gen.Dir = root
		jobYAML, err := gen.Output()
		require.NoError(t, err, sw.grid)
		sweepObjs, err := manifest.Decode("gantry-sim sweep", jobYAML)
		require.NoError(t, err)
		require.NoError(t, kubectl.Apply(ctx, sweepObjs...), sw.grid)
		job, err := client.BatchV1().Jobs("default").Get(ctx, sw.name, metav1.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, sw.cells, *job.Spec.Completions, sw.grid)
	}

	// kubectl delete -f examples/: the garbage collector removes what the
	// Deployments made. First one Deployment alone: its ReplicaSet and
	// pods go, the other examples stay.
	var inference []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Deployment" && o.GetName() == "inference" {
			inference = append(inference, o)
		}
	}
	require.Len(t, inference, 1, "examples/ has the inference Deployment")
	require.NoError(t, kubectl.Delete(ctx, inference...))
	waitFor(ctx, t, "the inference Deployment's ReplicaSet and pods deleted", func() (bool, error) {
		left, err := exampleObjects(ctx, client)
		if err != nil {
			return false, nil
		}
		return !left["inference"] && left["train-a100"] && left["batch-t4"], nil
	})
	require.NoError(t, kubectl.Delete(ctx, objs...))
	waitFor(ctx, t, "every example's pods and ReplicaSets deleted", func() (bool, error) {
		left, err := exampleObjects(ctx, client)
		return err == nil && len(left) == 0, nil
	})

	// make playground-down: the playground exits cleanly and leaves
	// nothing behind.
	apiServer := cfg.Host
	down := exec.Command("make", "playground-down", "PLAYGROUND_DIR="+dir)
	down.Dir = root
	b, err := down.CombinedOutput()
	require.NoError(t, err, "%s", b)
	stopped = true
	select {
	case err := <-exited:
		require.NoError(t, err, "make playground exit status")
	case <-time.After(time.Minute):
		t.Fatal("make playground still running a minute after make playground-down")
	}
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left, "kubeconfig and pid file removed")
	logDir := out.after("Process logs: ")
	require.NotEmpty(t, logDir)
	_, err = os.Stat(logDir)
	require.True(t, os.IsNotExist(err), "process logs %s removed", logDir)
	_, err = client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	require.Error(t, err, "the API server at %s is gone", apiServer)
}

// exampleObjects returns the apps (app label or pod name) that still have
// pods or ReplicaSets in the default namespace.
func exampleObjects(ctx context.Context, client kubernetes.Interface) (map[string]bool, error) {
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	rss, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for i := range pods.Items {
		out[app(&pods.Items[i])] = true
	}
	for _, rs := range rss.Items {
		out[rs.Labels["app"]] = true
	}
	return out, nil
}

// sharePod asks for percent of a GPU and names no scheduler.
func sharePod(name, percent string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{contract.ResourceGPUPercent: resource.MustParse(percent)}}}}},
	}
}

func app(p *corev1.Pod) string {
	if a := p.Labels["app"]; a != "" {
		return a
	}
	return p.Name
}

// readyNodes groups Ready nodes by GPU model.
func readyNodes(ctx context.Context, client kubernetes.Interface) map[string][]string {
	out := map[string][]string{}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return out
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if harness.NodeIsReady(n) {
			out[n.Labels[contract.LabelGPUModel]] = append(out[n.Labels[contract.LabelGPUModel]], n.Name)
		}
	}
	return out
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	started := time.Now()
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) { return cond() })
	require.NoError(t, err, "waiting for %s", what)
	t.Logf("%s after %.1fs", what, time.Since(started).Seconds())
}

// lines collects a process's output for matching.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *lines) has(s string) bool { return strings.Contains(l.String(), s) }

// after returns the rest of the first line that starts with prefix.
func (l *lines) after(prefix string) string {
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

var _ io.Writer = (*lines)(nil)
