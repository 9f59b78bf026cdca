package agentmode_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/dra/agentmode"
)

// backend is one healthy card whose health watch ends after stopAfter (or
// never, when zero) or cannot start.
type backend struct {
	watchErr  error
	stopAfter time.Duration
}

func (backend) Name() string { return "test" }
func (backend) Devices() (device.Inventory, error) {
	return device.Inventory{Devices: []device.Device{{ID: "GPU-a", Kind: device.GPU, Model: "A100", MemoryMiB: 1024, Health: device.Healthy}}}, nil
}
func (backend) Runtime() discovery.Runtime {
	return discovery.Runtime{"GPU-a": {Paths: []string{"/dev/null"}}}
}
func (b backend) Watch(ctx context.Context) (<-chan discovery.HealthEvent, error) {
	if b.watchErr != nil {
		return nil, b.watchErr
	}
	ch := make(chan discovery.HealthEvent)
	go func() {
		defer close(ch)
		if b.stopAfter == 0 {
			<-ctx.Done()
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(b.stopAfter):
		}
	}()
	return ch, nil
}

// TestServe: Serve runs until its context ends, and a health watch that
// cannot start or stops ends the driver with that error: it never serves
// cards whose health nobody watches.
func TestServe(t *testing.T) {
	cases := []struct {
		name    string
		node    string
		backend backend
		cancel  time.Duration
		wantErr string
	}{
		{name: "until the context ends", node: "n1", cancel: 300 * time.Millisecond},
		// SIGTERM while the driver still starts is a clean stop too.
		{name: "context ends during start", node: "n1", cancel: time.Millisecond},
		{name: "no node name", wantErr: "dra mode: no node name (set NODE_NAME)"},
		{name: "health watch cannot start", node: "n1", backend: backend{watchErr: errors.New("no events")},
			wantErr: "health: watching health with backend test: no events"},
		{name: "health watch stops", node: "n1", backend: backend{stopAfter: 200 * time.Millisecond},
			wantErr: "health: health watch of backend test stopped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if tc.cancel > 0 {
				time.AfterFunc(tc.cancel, cancel)
			}
			dir := t.TempDir()
			err := agentmode.Serve(ctx, agentmode.ServeConfig{NodeName: tc.node, KubeClient: fake.NewClientset(),
				Backends:      []discovery.Backend{tc.backend},
				CDI:           cdi.Config{Dir: filepath.Join(dir, "cdi"), ToolkitDirs: []string{dir}},
				PluginDataDir: filepath.Join(dir, "plugin"), RegistrarDir: filepath.Join(dir, "registry")})
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.ErrorIs(t, ctx.Err(), context.Canceled, "Serve returned before its context ended")
		})
	}
}

// TestServeWarnsOfADevicePluginInventory: a node that still carries
// device-plugin mode's inventory is reported with the command that removes
// it; a clean node is not.
func TestServeWarnsOfADevicePluginInventory(t *testing.T) {
	for _, stale := range []bool{true, false} {
		t.Run(fmt.Sprintf("stale=%v", stale), func(t *testing.T) {
			logger := ktesting.NewLogger(t, ktesting.NewConfig(ktesting.BufferLogs(true)))
			ctx, cancel := context.WithTimeout(klog.NewContext(context.Background(), logger), 200*time.Millisecond)
			defer cancel()
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
			if stale {
				n.Annotations = map[string]string{contract.AnnotationInventory: "{}"}
			}
			dir := t.TempDir()
			require.NoError(t, agentmode.Serve(ctx, agentmode.ServeConfig{NodeName: "n1", KubeClient: fake.NewClientset(n),
				Backends:      []discovery.Backend{backend{}},
				CDI:           cdi.Config{Dir: filepath.Join(dir, "cdi"), ToolkitDirs: []string{dir}},
				PluginDataDir: filepath.Join(dir, "plugin"), RegistrarDir: filepath.Join(dir, "registry")}))
			logs := logger.GetSink().(ktesting.Underlier).GetBuffer().String()
			const warning = "The node still carries device-plugin mode's inventory"
			if stale {
				require.Contains(t, logs, warning)
				require.Contains(t, logs, "kubectl annotate node n1 gantry.dev/inventory-")
			} else {
				require.NotContains(t, logs, warning)
			}
		})
	}
}
