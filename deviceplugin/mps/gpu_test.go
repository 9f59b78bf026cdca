//go:build gpu

package mps_test

// The real-GPU check of the MPS daemon, run by hack/gpu-check.sh on a
// machine with an NVIDIA GPU, its driver (nvidia-cuda-mps-control) and
// root; never in CI (build tag gpu). GANTRY_MPS_PROBE names the compiled
// hack/gpucheck/mpsprobe.cu.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/stretchr/testify/require"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/mps"
)

// TestRealGPU starts the MPS daemon with the agent's code on GPU 0, runs a
// 25 % client that stays within its limit and, beside it, a 25 % client
// that allocates past its pinned memory limit: the second must be refused
// while the first runs to its end. It also records whether a limit keyed by
// UUID instead of ordinal is honoured, and that the compute mode is put back.
func TestRealGPU(t *testing.T) {
	probe := os.Getenv("GANTRY_MPS_PROBE")
	if probe == "" || os.Geteuid() != 0 {
		t.Fatal("needs root and GANTRY_MPS_PROBE (see hack/gpu-check.sh)")
	}
	lib := nvml.New()
	require.Equal(t, nvml.SUCCESS, lib.Init())
	defer lib.Shutdown()
	h, ret := lib.DeviceGetHandleByIndex(0)
	require.Equal(t, nvml.SUCCESS, ret)
	uuid, _ := h.GetUUID()
	mem, _ := h.GetMemoryInfo()
	before, ret := h.GetComputeMode()
	require.Equal(t, nvml.SUCCESS, ret)
	memMiB := int64(mem.Total >> 20)
	t.Logf("GPU 0: %s, %d MiB, compute mode %d", uuid, memMiB, before)

	root := t.TempDir()
	cfg := mps.Config{ControlBinary: "nvidia-cuda-mps-control", PipeDir: filepath.Join(root, "pipe"), LogDir: filepath.Join(root, "log"),
		ShmDir: filepath.Join(root, "shm"), HealthInterval: 2 * time.Second, BackoffInitial: time.Second, BackoffMax: 5 * time.Second}
	up := make(chan bool, 10)
	d, err := mps.New(cfg, lib, []device.Device{{ID: uuid, Index: 0, Kind: device.GPU, MemoryMiB: memMiB}},
		func(_ context.Context, ok bool, reason string) { t.Logf("daemon up=%v: %s", ok, reason); up <- ok })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), ktesting.NewLogger(t, ktesting.NewConfig())))
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case ok := <-up:
		require.True(t, ok, "the daemon did not start")
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon did not start within 60s")
	}
	mode, _ := h.GetComputeMode()
	require.Equal(t, nvml.COMPUTEMODE_EXCLUSIVE_PROCESS, mode)

	limit := memMiB / 4
	client := func(key string, allocMiB int64, seconds int) *exec.Cmd {
		c := exec.Command(probe, fmt.Sprint(allocMiB), fmt.Sprint(seconds))
		c.Env = append(os.Environ(), "CUDA_MPS_PIPE_DIRECTORY="+cfg.PipeDir, "CUDA_VISIBLE_DEVICES="+uuid,
			"CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25", fmt.Sprintf("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=%s=%dM", key, limit))
		return c
	}
	steady := client("0", memMiB/10, 40)
	steadyOut, err := os.Create(filepath.Join(root, "steady.log"))
	require.NoError(t, err)
	steady.Stdout, steady.Stderr = steadyOut, steadyOut
	require.NoError(t, steady.Start())
	time.Sleep(5 * time.Second)

	out, err := client("0", memMiB/2, 5).CombinedOutput()
	t.Logf("25%% client allocating 50%% (ordinal key):\n%s", out)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 3, exit.ExitCode(), "the allocation past the pinned memory limit must be refused")

	out, err = client(uuid, memMiB/2, 5).CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		}
	}
	t.Logf("FINDING: with the limit keyed by UUID the 50%% allocation exited %d (3 = refused: UUID keys work):\n%s", code, out)

	require.NoError(t, steady.Wait(), "the client within its limit must keep running")
	log, _ := os.ReadFile(steadyOut.Name())
	t.Logf("25%% client within its limit:\n%s", log)

	cancel()
	require.NoError(t, <-done)
	mode, _ = h.GetComputeMode()
	require.Equal(t, before, mode, "compute mode restored")
}
