package discovery_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/testutil"
	testclock "k8s.io/utils/clock/testing"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/discovery/nvmltest"
	dpmetrics "github.com/gantry-dev/gantry/deviceplugin/metrics"
)

func TestStoreMergesBackendsAndAppliesHealth(t *testing.T) {
	npus := `apiVersion: gantry.dev/v1alpha1
kind: DeviceInventory
spec:
  devices:
  - {id: npu-a, index: 8, kind: npu, model: Ascend910B, memoryMiB: 65536}
`
	srv := nvmltest.NewDGXA100()
	reg := metrics.NewKubeRegistry()
	m := dpmetrics.New().Register(reg)
	s, err := discovery.NewStore([]discovery.Backend{
		discovery.NewNVML(srv),
		discovery.NewStatic(writeFile(t, t.TempDir(), npus), nil, time.Second),
	}, m)
	require.NoError(t, err)
	inv, changed := s.Snapshot()
	require.Equal(t, 8, inv.Count(device.GPU))
	require.Equal(t, 1, inv.Count(device.NPU))
	require.Equal(t, discovery.DeviceRuntime{VisibleDevicesEnv: "NVIDIA_VISIBLE_DEVICES", RuntimeID: nvmltest.UUID(0)}, s.Runtime()[nvmltest.UUID(0)])

	ctx := context.Background()
	require.False(t, s.Apply(ctx, discovery.HealthEvent{DeviceID: "nope", Health: device.Unhealthy}))
	require.False(t, s.Apply(ctx, discovery.HealthEvent{DeviceID: "npu-a", Health: device.Healthy}))
	select {
	case <-changed:
		t.Fatal("no-op events must not signal a change")
	default:
	}
	require.True(t, s.Apply(ctx, discovery.HealthEvent{DeviceID: "npu-a", Health: device.Unhealthy, Reason: "test"}))
	<-changed
	inv, _ = s.Snapshot()
	d, _ := inv.ByID("npu-a")
	require.Equal(t, device.Unhealthy, d.Health)
	require.Equal(t, "test", s.Reason("npu-a"))

	v, err := testutil.GetGaugeMetricValue(m.DeviceHealthy.WithLabelValues("npu-a", "npu", "Ascend910B"))
	require.NoError(t, err)
	require.Equal(t, 0.0, v)
	v, err = testutil.GetCounterMetricValue(m.HealthTransitions.WithLabelValues("npu", "Unhealthy"))
	require.NoError(t, err)
	require.Equal(t, 1.0, v)
}

func TestStoreRejectsClashingBackends(t *testing.T) {
	clash := `apiVersion: gantry.dev/v1alpha1
kind: DeviceInventory
spec:
  devices:
  - {id: npu-a, index: 3, kind: npu, model: Ascend910B, memoryMiB: 65536}
`
	_, err := discovery.NewStore([]discovery.Backend{
		discovery.NewNVML(nvmltest.NewDGXA100()),
		discovery.NewStatic(writeFile(t, t.TempDir(), clash), nil, time.Second),
	}, nil)
	require.EqualError(t, err, "merged inventory: device index 3 listed twice")
}

func TestStoreRunFollowsNVMLHealth(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	s, err := discovery.NewStore([]discovery.Backend{discovery.NewNVML(srv, discovery.WithClock(clk), discovery.WithEventWait(time.Millisecond))}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	_, changed := s.Snapshot()
	srv.InjectXID(5, 79)
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("store did not change")
	}
	inv, _ := s.Snapshot()
	require.Equal(t, device.Unhealthy, inv.Devices[5].Health)
	cancel()
	require.NoError(t, <-done)
}

// fakeBackend is a backend with no device whose Watch follows ctx, closes
// early when stop is closed, or fails with err.
type fakeBackend struct {
	name string
	err  error
	stop chan struct{}
}

func (f *fakeBackend) Name() string { return f.name }

func (f *fakeBackend) Devices() (device.Inventory, error) { return device.Inventory{}, nil }

func (f *fakeBackend) Runtime() discovery.Runtime { return discovery.Runtime{} }

func (f *fakeBackend) Watch(ctx context.Context) (<-chan discovery.HealthEvent, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := make(chan discovery.HealthEvent)
	go func() {
		defer close(out)
		select {
		case <-ctx.Done():
		case <-f.stop:
		}
	}()
	return out, nil
}

func TestStoreRunStopsEarlierWatchesWhenALaterOneFails(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("k8s.io/klog/v2.(*loggingT).flushDaemon"))
	s, err := discovery.NewStore([]discovery.Backend{
		&fakeBackend{name: "ok", stop: make(chan struct{})},
		&fakeBackend{name: "broken", err: errors.New("no driver")},
	}, nil)
	require.NoError(t, err)
	require.EqualError(t, s.Run(context.Background()), "watching health with backend broken: no driver")
}

func TestStoreRunFailsWhenAWatchStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("k8s.io/klog/v2.(*loggingT).flushDaemon"))
	stop := make(chan struct{})
	s, err := discovery.NewStore([]discovery.Backend{
		&fakeBackend{name: "steady", stop: make(chan struct{})},
		&fakeBackend{name: "flaky", stop: stop},
	}, nil)
	require.NoError(t, err)
	done := make(chan error)
	go func() { done <- s.Run(context.Background()) }()
	close(stop)
	select {
	case err := <-done:
		require.EqualError(t, err, "health watch of backend flaky stopped")
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when a watch stopped")
	}
}

func TestStoreRunEndsWithContext(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreTopFunction("k8s.io/klog/v2.(*loggingT).flushDaemon"))
	s, err := discovery.NewStore([]discovery.Backend{
		&fakeBackend{name: "a", stop: make(chan struct{})},
		&fakeBackend{name: "b", stop: make(chan struct{})},
	}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	cancel()
	require.NoError(t, <-done)
}

// TestStoreWithdrawals: a device withdrawn by a component (the MPS daemon
// being down) stays Unhealthy whatever its backend reports, until every
// withdrawal ends; then it takes the backend's health again.
func TestStoreWithdrawals(t *testing.T) {
	s, err := discovery.NewStore([]discovery.Backend{discovery.NewNVML(nvmltest.NewDGXA100())}, nil)
	require.NoError(t, err)
	ctx := context.Background()
	id := nvmltest.UUID(2)
	health := func() device.Health {
		inv, _ := s.Snapshot()
		d, _ := inv.ByID(id)
		return d.Health
	}
	require.True(t, s.SetIsolation(device.IsolationMPS, id))
	require.False(t, s.SetIsolation(device.IsolationMPS, id))
	inv, _ := s.Snapshot()
	d, _ := inv.ByID(id)
	require.Equal(t, device.IsolationMPS, d.Isolation)

	require.True(t, s.Withdraw(ctx, id, "mps", "MPS daemon down"))
	require.Equal(t, device.Unhealthy, health())
	require.Equal(t, "MPS daemon down", s.Reason(id))
	require.False(t, s.Apply(ctx, discovery.HealthEvent{DeviceID: id, Health: device.Healthy, Reason: "recovered"}), "the backend cannot bring it back")
	require.True(t, s.Restore(ctx, id, "mps", "MPS daemon up"))
	require.Equal(t, device.Healthy, health())

	// Backend unhealthy and withdrawn: healthy only once both end.
	require.True(t, s.Apply(ctx, discovery.HealthEvent{DeviceID: id, Health: device.Unhealthy, Reason: "XID 79"}))
	require.False(t, s.Withdraw(ctx, id, "mps", "MPS daemon down"))
	require.False(t, s.Restore(ctx, id, "mps", "MPS daemon up"))
	require.Equal(t, device.Unhealthy, health())
	require.False(t, s.Withdraw(ctx, "GPU-nope", "mps", "x"))
}
