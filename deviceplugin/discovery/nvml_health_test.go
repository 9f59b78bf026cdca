package discovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/stretchr/testify/require"
	testclock "k8s.io/utils/clock/testing"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/discovery/nvmltest"
)

const window = 10 * time.Minute

func watch(t *testing.T, srv *nvmltest.Server, clk *testclock.FakeClock) <-chan discovery.HealthEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := discovery.NewNVML(srv, discovery.WithClock(clk), discovery.WithRecoveryWindow(window), discovery.WithEventWait(time.Millisecond))
	ch, err := b.Watch(ctx)
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		for range ch {
		}
	})
	return ch
}

func next(t *testing.T, ch <-chan discovery.HealthEvent) discovery.HealthEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no health event within 5s")
		return discovery.HealthEvent{}
	}
}

func quiet(t *testing.T, ch <-chan discovery.HealthEvent) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected health event %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestNVMLHealthUnhealthyAndRecovery(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	ch := watch(t, srv, clk)

	// Application-level XIDs change nothing.
	for _, xid := range discovery.DefaultIgnoredXIDs {
		srv.InjectXID(2, xid)
	}
	quiet(t, ch)

	srv.InjectXID(3, 79)
	ev := next(t, ch)
	require.Equal(t, nvmltest.UUID(3), ev.DeviceID)
	require.Equal(t, device.Unhealthy, ev.Health)
	require.Equal(t, "XID 79 (GPU has fallen off the bus); needs a GPU reset", ev.Reason)

	// The GPU does not answer yet: the window passing is not enough.
	srv.SetLost(3, true)
	clk.Step(window)
	quiet(t, ch)

	// A fresh critical XID restarts the window, even once it answers again.
	srv.InjectXID(3, 48)
	quiet(t, ch)
	srv.SetLost(3, false)
	quiet(t, ch)
	clk.Step(window - time.Second)
	quiet(t, ch)
	clk.Step(time.Second)
	ev = next(t, ch)
	require.Equal(t, nvmltest.UUID(3), ev.DeviceID)
	require.Equal(t, device.Healthy, ev.Health)
	require.Contains(t, ev.Reason, "recovered")
	require.Contains(t, ev.Reason, "reset evidenced: it stopped answering and answers again")
}

// TestNVMLHealthResetXIDsWaitForAReset: after an XID that needs a GPU
// reset the GPU stays Unhealthy however long it is quiet, until a reset
// shows (its volatile ECC count is cleared); an XID that needs none
// recovers after the window.
func TestNVMLHealthResetXIDsWaitForAReset(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	ch := watch(t, srv, clk)

	srv.SetVolatileECC(4, 3)
	srv.InjectXID(4, 48)
	require.Equal(t, device.Unhealthy, next(t, ch).Health)
	srv.InjectXID(5, 79) // never stops answering: no evidence of a reset
	require.Equal(t, device.Unhealthy, next(t, ch).Health)
	srv.InjectXID(6, 74) // NVLink error: no reset needed
	require.Equal(t, device.Unhealthy, next(t, ch).Health)

	clk.Step(window)
	ev := next(t, ch)
	require.Equal(t, nvmltest.UUID(6), ev.DeviceID)
	require.Equal(t, device.Healthy, ev.Health)
	clk.Step(10 * window)
	quiet(t, ch)

	srv.SetVolatileECC(4, 0) // nvidia-smi -r clears the volatile counters
	ev = next(t, ch)
	require.Equal(t, nvmltest.UUID(4), ev.DeviceID)
	require.Equal(t, device.Healthy, ev.Health)
	require.Contains(t, ev.Reason, "its volatile uncorrected ECC count went from 3 to 0")
	quiet(t, ch) // GPU 5 stays down
}

func TestNVMLHealthDoubleBitECCAndUnknownDevice(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	ch := watch(t, srv, clk)

	srv.InjectEvent(nvml.EventData{Device: srv.Devices[6], EventType: nvml.EventTypeDoubleBitEccError})
	ev := next(t, ch)
	require.Equal(t, discovery.HealthEvent{DeviceID: nvmltest.UUID(6), Health: device.Unhealthy, Reason: "double-bit ECC error; needs a GPU reset", Time: clk.Now()}, ev)

	// A critical XID that names no device takes every healthy GPU down.
	srv.InjectEvent(nvml.EventData{EventType: nvml.EventTypeXidCriticalError, EventData: 119})
	got := map[string]bool{}
	for i := 0; i < 7; i++ {
		ev := next(t, ch)
		require.Equal(t, device.Unhealthy, ev.Health)
		got[ev.DeviceID] = true
	}
	require.Len(t, got, 7)
	require.False(t, got[nvmltest.UUID(6)], "GPU 6 was already unhealthy and must not be reported twice")
}

func TestNVMLHealthWaitFailureMarksAllThenRecovers(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	ch := watch(t, srv, clk)

	srv.SetWaitError(nvml.ERROR_UNKNOWN)
	for i := 0; i < 8; i++ {
		ev := next(t, ch)
		require.Equal(t, device.Unhealthy, ev.Health)
		require.Equal(t, "event wait failed: ERROR_UNKNOWN", ev.Reason)
	}
	srv.SetWaitError(nvml.SUCCESS)
	clk.Step(window)
	for i := 0; i < 8; i++ {
		require.Equal(t, device.Healthy, next(t, ch).Health)
	}
}

func TestNVMLHealthRegistration(t *testing.T) {
	t.Run("not supported: never unhealthy", func(t *testing.T) {
		srv := nvmltest.NewDGXA100()
		srv.GPU(1).RegisterEventsFunc = func(uint64, nvml.EventSet) nvml.Return { return nvml.ERROR_NOT_SUPPORTED }
		quiet(t, watch(t, srv, testclock.NewFakeClock(time.Unix(0, 0))))
	})
	t.Run("failure: unhealthy until registration works", func(t *testing.T) {
		srv := nvmltest.NewDGXA100()
		clk := testclock.NewFakeClock(time.Unix(1000, 0))
		fail := true
		srv.GPU(1).GetSupportedEventTypesFunc = func() (uint64, nvml.Return) {
			if fail {
				return 0, nvml.ERROR_UNKNOWN
			}
			return nvml.EventTypeXidCriticalError, nvml.SUCCESS
		}
		ch := watch(t, srv, clk)
		ev := next(t, ch)
		require.Equal(t, nvmltest.UUID(1), ev.DeviceID)
		require.Equal(t, device.Unhealthy, ev.Health)
		require.Contains(t, ev.Reason, "cannot register for health events: nvml device 1: GetSupportedEventTypes: ERROR_UNKNOWN")
		clk.Step(window)
		quiet(t, ch)
	})
	t.Run("event set cannot be created", func(t *testing.T) {
		srv := nvmltest.NewDGXA100()
		srv.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) { return nil, nvml.ERROR_NOT_SUPPORTED }
		_, err := discovery.NewNVML(srv).Watch(context.Background())
		require.EqualError(t, err, "nvml EventSetCreate: ERROR_NOT_SUPPORTED")
	})
	t.Run("health checks off", func(t *testing.T) {
		srv := nvmltest.NewDGXA100()
		srv.EventSetCreateFunc = nil // would panic if called
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := discovery.NewNVML(srv, discovery.WithHealthChecks(false)).Watch(ctx)
		require.NoError(t, err)
		cancel()
		_, open := <-ch
		require.False(t, open)
	})
}
