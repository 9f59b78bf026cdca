package mps_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/stretchr/testify/require"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	testclock "k8s.io/utils/clock/testing"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/discovery/nvmltest"
	"github.com/gantry-dev/gantry/deviceplugin/mps"
)

var (
	buildOnce sync.Once
	fakeBin   string
	buildErr  error
)

// fakeControl builds testdata/fakemps once per test binary.
func fakeControl(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fakemps")
		if err != nil {
			buildErr = err
			return
		}
		fakeBin = filepath.Join(dir, "nvidia-cuda-mps-control")
		out, err := exec.Command("go", "build", "-o", fakeBin, "./testdata/fakemps").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Log(string(out))
		}
	})
	require.NoError(t, buildErr)
	return fakeBin
}

// event is one call of the listener.
type event struct {
	up     bool
	reason string
}

type fixture struct {
	t       *testing.T
	srv     *nvmltest.Server
	clock   *testclock.FakeClock
	pipe    string
	events  chan event
	cancel  context.CancelFunc
	done    chan error
	daemon  *mps.Daemon
	initial []nvml.ComputeMode
}

func start(t *testing.T, failStarts int) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{t: t, srv: nvmltest.NewDGXA100(), clock: testclock.NewFakeClock(time.Unix(1_700_000_000, 0)),
		pipe: filepath.Join(root, "pipe"), events: make(chan event, 100), done: make(chan error, 1)}
	for i := 0; i < 8; i++ {
		f.initial = append(f.initial, f.srv.ComputeMode(i))
	}
	if failStarts > 0 {
		require.NoError(t, os.MkdirAll(f.pipe, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(f.pipe, "fail-starts"), []byte{byte('0' + failStarts)}, 0o644))
	}
	var cards []device.Device
	for i := 0; i < 4; i++ {
		cards = append(cards, device.Device{ID: nvmltest.UUID(i), Index: i, Kind: device.GPU, MemoryMiB: 40960})
	}
	d, err := mps.New(mps.Config{ControlBinary: fakeControl(t), PipeDir: f.pipe, LogDir: filepath.Join(root, "log"), ShmDir: filepath.Join(root, "shm"),
		HealthInterval: 10 * time.Second, BackoffInitial: time.Second, BackoffMax: 4 * time.Second, Clock: f.clock},
		f.srv, cards, func(_ context.Context, up bool, reason string) { f.events <- event{up, reason} })
	require.NoError(t, err)
	f.daemon = d
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), ktesting.NewLogger(t, ktesting.NewConfig())))
	f.cancel = cancel
	go func() { f.done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-f.done })
	return f
}

func (f *fixture) next() event {
	f.t.Helper()
	select {
	case e := <-f.events:
		return e
	case <-time.After(20 * time.Second):
		f.t.Fatal("no event from the MPS daemon")
		return event{}
	}
}

func (f *fixture) commands() []string {
	b, err := os.ReadFile(filepath.Join(f.pipe, "commands.log"))
	require.NoError(f.t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// tick advances the fake clock once the daemon's loop waits on it.
func (f *fixture) tick(d time.Duration) {
	f.t.Helper()
	require.Eventually(f.t, f.clock.HasWaiters, 10*time.Second, time.Millisecond)
	f.clock.Step(d)
}

func TestDaemonStartsWithPerCardDefaultsAndRestoresOnShutdown(t *testing.T) {
	f := start(t, 0)
	require.Equal(t, event{true, "MPS daemon running"}, f.next())
	require.True(t, f.daemon.Up())
	for i := 0; i < 4; i++ {
		require.Equal(t, nvml.COMPUTEMODE_EXCLUSIVE_PROCESS, f.srv.ComputeMode(i), "GPU %d", i)
	}
	require.Equal(t, f.initial[4], f.srv.ComputeMode(4), "cards without MPS are left alone")
	require.Equal(t, []string{
		"-d", // the probe before found no daemon (and no daemon to record it)
		"get_default_active_thread_percentage",
		"set_default_active_thread_percentage 100",
		"set_default_device_pinned_mem_limit 0 40960M",
		"set_default_device_pinned_mem_limit 1 40960M",
		"set_default_device_pinned_mem_limit 2 40960M",
		"set_default_device_pinned_mem_limit 3 40960M",
	}, f.commands())

	f.tick(10 * time.Second) // a health probe, answered
	require.Eventually(t, func() bool { return len(f.commands()) == 8 }, 10*time.Second, time.Millisecond)

	f.cancel()
	require.NoError(t, <-f.done)
	f.done <- nil // for the cleanup
	cmds := f.commands()
	require.Equal(t, "quit", cmds[len(cmds)-1])
	for i := 0; i < 8; i++ {
		require.Equal(t, f.initial[i], f.srv.ComputeMode(i), "GPU %d compute mode restored", i)
	}
	require.NoFileExists(t, filepath.Join(f.pipe, "running"))
}

func TestDaemonCrashIsReportedAndRestarted(t *testing.T) {
	f := start(t, 0)
	require.Equal(t, event{true, "MPS daemon running"}, f.next())

	// The daemon dies: the next probe fails, the cards go down, and a new
	// daemon is started at once (it comes up: the cards come back).
	require.NoError(t, os.Remove(filepath.Join(f.pipe, "running")))
	f.tick(10 * time.Second)
	down := f.next()
	require.False(t, down.up)
	require.Contains(t, down.reason, "MPS daemon stopped answering")
	require.Contains(t, down.reason, "Cannot find MPS control daemon process")
	require.Equal(t, event{true, "MPS daemon running"}, f.next())
	starts := 0
	for _, c := range f.commands() {
		if c == "-d" {
			starts++
		}
	}
	require.Equal(t, 2, starts)
}

func TestDaemonFailingToStartIsRetriedWithBackoff(t *testing.T) {
	f := start(t, 3)
	for i := 0; i < 3; i++ {
		e := f.next()
		require.False(t, e.up)
		require.Contains(t, e.reason, "failed to start (injected)")
		require.False(t, f.daemon.Up())
		f.tick([]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}[i])
	}
	require.Equal(t, event{true, "MPS daemon running"}, f.next())
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := mps.New(mps.Config{ControlBinary: "x", PipeDir: "pipe", LogDir: "/l", ShmDir: "/s", HealthInterval: time.Second, BackoffInitial: time.Second, BackoffMax: time.Second}, nil, nil, nil)
	require.ErrorContains(t, err, `MPS directory "pipe" is not an absolute path`)
	_, err = mps.New(mps.Config{ControlBinary: "x", PipeDir: "/p", LogDir: "/l", ShmDir: "/s", HealthInterval: time.Second, BackoffInitial: time.Minute, BackoffMax: time.Second}, nil, nil, nil)
	require.ErrorContains(t, err, "must be positive and ordered")
}
