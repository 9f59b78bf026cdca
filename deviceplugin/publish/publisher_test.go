package publish_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testclock "k8s.io/utils/clock/testing"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/publish"
)

func inventory(gpus int, model string) device.Inventory {
	var inv device.Inventory
	for i := 0; i < gpus; i++ {
		inv.Devices = append(inv.Devices, device.Device{ID: "GPU-" + string(rune('a'+i)), Index: i, Kind: device.GPU,
			Model: model, MemoryMiB: 40960, Health: device.Healthy, NUMANode: 0})
	}
	return inv
}

func newNode() *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1",
		Labels:      map[string]string{"team": "ml", contract.LabelNPUCount: "4", contract.LabelNPUModel: "Ascend910B"},
		Annotations: map[string]string{"other.io/x": "keep"},
	}}
}

func patches(c *fake.Clientset) []k8stesting.PatchAction {
	var out []k8stesting.PatchAction
	for _, a := range c.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			out = append(out, p)
		}
	}
	return out
}

func TestPublishTouchesOnlyGantryKeys(t *testing.T) {
	c := fake.NewClientset(newNode())
	p := &publish.Publisher{Client: c, Node: "n1"}
	ctx := context.Background()
	inv := inventory(2, "A100-SXM4-40GB")

	changed, err := p.Publish(ctx, inv)
	require.NoError(t, err)
	require.True(t, changed)
	n, err := c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"team":                    "ml",
		contract.LabelGPUCount:    "2",
		contract.LabelGPUModel:    "A100-SXM4-40GB",
		contract.LabelAccelerator: "gpu",
	}, n.Labels, "stale NPU labels removed, other labels kept")
	require.Equal(t, "keep", n.Annotations["other.io/x"])
	got, err := contract.InventoryOf(n)
	require.NoError(t, err)
	require.Equal(t, inv, got)
	require.Len(t, patches(c), 1)
	require.Equal(t, types.MergePatchType, patches(c)[0].GetPatchType())

	// Nothing changed: no patch at all.
	changed, err = p.Publish(ctx, inv)
	require.NoError(t, err)
	require.False(t, changed)
	require.Len(t, patches(c), 1)
}

func TestPublishErrors(t *testing.T) {
	c := fake.NewClientset()
	_, err := (&publish.Publisher{Client: c, Node: "missing"}).Publish(context.Background(), inventory(1, "A100"))
	require.ErrorContains(t, err, `getting node missing: nodes "missing" not found`)

	c = fake.NewClientset(newNode())
	bad := inventory(2, "A100")
	bad.Devices[1].ID = bad.Devices[0].ID
	_, err = (&publish.Publisher{Client: c, Node: "n1"}).Publish(context.Background(), bad)
	require.ErrorContains(t, err, "encoding inventory")
}

type source struct {
	mu      sync.Mutex
	inv     device.Inventory
	changed chan struct{}
}

func (s *source) Snapshot() (device.Inventory, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inv, s.changed
}

func (s *source) set(inv device.Inventory) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inv = inv
	close(s.changed)
	s.changed = make(chan struct{})
}

func TestRunPublishesOnChangeAndRepairsOnHeartbeat(t *testing.T) {
	c := fake.NewClientset(newNode())
	clk := testclock.NewFakeClock(time.Unix(0, 0))
	src := &source{inv: inventory(2, "A100"), changed: make(chan struct{})}
	p := &publish.Publisher{Client: c, Node: "n1", Source: src, Clock: clk, Heartbeat: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	annotation := func() device.Inventory {
		n, err := c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		require.NoError(t, err)
		inv, err := contract.InventoryOf(n)
		if err != nil {
			return device.Inventory{}
		}
		return inv
	}
	require.Eventually(t, func() bool { return len(annotation().Devices) == 2 }, 5*time.Second, time.Millisecond)

	// A device goes unhealthy: published at once, no heartbeat needed.
	sick := inventory(2, "A100")
	sick.Devices[1].Health = device.Unhealthy
	src.set(sick)
	require.Eventually(t, func() bool {
		inv := annotation()
		return len(inv.Devices) == 2 && inv.Devices[1].Health == device.Unhealthy
	}, 5*time.Second, time.Millisecond)

	// Someone deletes the annotation; the heartbeat puts it back.
	n, err := c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	require.NoError(t, err)
	delete(n.Annotations, contract.AnnotationInventory)
	_, err = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, clk.HasWaiters, 5*time.Second, time.Millisecond)
	clk.Step(time.Minute)
	require.Eventually(t, func() bool { return len(annotation().Devices) == 2 }, 5*time.Second, time.Millisecond)
}

// TestRunHandsOverToDRAMode: an agent that stops on a node its operator
// labelled for DRA mode withdraws the inventory and its labels (other keys
// stay); on any other stop the inventory stays.
func TestRunHandsOverToDRAMode(t *testing.T) {
	cases := []struct {
		name         string
		mode         string
		wantWithdraw bool
	}{
		{name: "moved to DRA mode", mode: contract.AgentModeDRA, wantWithdraw: true},
		{name: "a rollout or restart", wantWithdraw: false},
		{name: "another value", mode: "device-plugin", wantWithdraw: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset(newNode())
			p := &publish.Publisher{Client: c, Node: "n1", Source: &source{inv: inventory(2, "A100"), changed: make(chan struct{})}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { p.Run(ctx); close(done) }()
			require.Eventually(t, func() bool {
				n, err := c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
				return err == nil && n.Annotations[contract.AnnotationInventory] != ""
			}, 5*time.Second, time.Millisecond)
			if tc.mode != "" {
				n, err := c.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
				require.NoError(t, err)
				n.Labels[contract.LabelAgentMode] = tc.mode
				_, err = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
				require.NoError(t, err)
			}
			cancel()
			<-done
			n, err := c.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
			require.NoError(t, err)
			wantLabels := map[string]string{"team": "ml", contract.LabelGPUModel: "A100", contract.LabelGPUCount: "2", contract.LabelAccelerator: "gpu"}
			if tc.mode != "" {
				wantLabels[contract.LabelAgentMode] = tc.mode
			}
			_, hasInventory := n.Annotations[contract.AnnotationInventory]
			if tc.wantWithdraw {
				for _, k := range []string{contract.LabelGPUModel, contract.LabelGPUCount, contract.LabelAccelerator} {
					delete(wantLabels, k)
				}
				require.False(t, hasInventory, "the inventory annotation stays on a node in DRA mode")
			} else {
				require.True(t, hasInventory, "the inventory annotation is gone")
			}
			if diff := cmp.Diff(wantLabels, n.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			require.Equal(t, "keep", n.Annotations["other.io/x"])
		})
	}
}
