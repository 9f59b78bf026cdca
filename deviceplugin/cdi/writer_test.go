package cdi_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	oci "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	cdiapi "tags.cncf.io/container-device-interface/pkg/cdi"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
)

func gpu(id string, index int, iso device.Isolation) device.Device {
	return device.Device{ID: id, Index: index, Kind: device.GPU, Vendor: "nvidia", Model: "A100-SXM4-80GB",
		MemoryMiB: 81920, Health: device.Healthy, NUMANode: 0, Isolation: iso}
}

// toolkitSpec writes a spec the way `nvidia-ctk cdi generate
// --device-name-strategy=uuid` names GPUs, for the given UUIDs.
func toolkitSpec(t *testing.T, dir string, uuids ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("cdiVersion: 0.6.0\nkind: nvidia.com/gpu\ndevices:\n")
	for i, u := range uuids {
		b.WriteString("- name: " + u + "\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia" + string(rune('0'+i)) + "\n      hostPath: /dev/null\n")
	}
	b.WriteString("containerEdits:\n  deviceNodes:\n  - path: /dev/nvidiactl\n    hostPath: /dev/zero\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nvidia.yaml"), []byte(b.String()), 0o644))
}

func newWriter(t *testing.T, mps *cdi.MPS) (*cdi.Writer, string, string) {
	t.Helper()
	own, toolkit := t.TempDir(), t.TempDir()
	w, err := cdi.New(cdi.Config{Dir: own, ToolkitDirs: []string{toolkit}, MPS: mps})
	require.NoError(t, err)
	return w, own, toolkit
}

// inject applies the named CDI devices to a container whose pod spec sets
// env, the way the runtime does (after the pod's environment).
func inject(t *testing.T, dirs []string, env []string, devices ...string) *oci.Spec {
	t.Helper()
	cache, err := cdiapi.NewCache(cdiapi.WithSpecDirs(dirs...), cdiapi.WithAutoRefresh(false))
	require.NoError(t, err)
	require.Empty(t, cache.GetErrors())
	spec := &oci.Spec{Process: &oci.Process{Env: env}, Linux: &oci.Linux{}}
	unresolved, err := cache.InjectDevices(spec, devices...)
	require.NoError(t, err, "unresolved %v", unresolved)
	return spec
}

func envMap(s *oci.Spec) map[string]string {
	out := map[string]string{}
	for _, kv := range s.Process.Env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func TestSyncWritesValidSpecsAndNamesToolkitDevices(t *testing.T) {
	mps := &cdi.MPS{PipeDir: "/run/gantry/mps/pipe", ShmDir: "/run/gantry/mps/shm"}
	w, own, toolkit := newWriter(t, mps)
	toolkitSpec(t, toolkit, "GPU-a", "GPU-b")
	cards := []cdi.Card{{Device: gpu("GPU-a", 0, device.IsolationMPS)}, {Device: gpu("GPU-b", 1, device.IsolationNone)}}
	require.NoError(t, w.Sync(cards))

	// The library's own reader validates every spec Gantry wrote.
	for _, p := range w.Specs() {
		spec, err := cdiapi.ReadSpec(p, 0)
		require.NoError(t, err, p)
		require.Equal(t, "gantry.dev/gpu", spec.Kind)
		require.Len(t, spec.Devices, device.UnitsPerDevice)
	}
	require.Len(t, w.Specs(), 2)

	testCases := []struct {
		name      string
		shares    []cdi.Share
		podEnv    []string
		wantDevs  []string
		wantEnv   map[string]string
		wantNoEnv []string
		wantMount []string
	}{
		{
			name:     "25% of an MPS card: toolkit device, limits, daemon mounts; the pod's NVIDIA_VISIBLE_DEVICES=all selects nothing",
			shares:   []cdi.Share{{Device: cards[0].Device, Units: 25}},
			podEnv:   []string{"NVIDIA_VISIBLE_DEVICES=all", "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=100", "HOME=/root"},
			wantDevs: []string{"nvidia.com/gpu=GPU-a", "gantry.dev/gpu=GPU-a-p25"},
			wantEnv: map[string]string{"NVIDIA_VISIBLE_DEVICES": "void", "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE": "25",
				"CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "0=20480M", "CUDA_MPS_PIPE_DIRECTORY": "/run/gantry/mps/pipe",
				"GANTRY_DEVICE_SHARE_PERCENT": "25", "GANTRY_DEVICE_MEMORY_LIMIT_MIB": "20480", "HOME": "/root"},
			wantMount: []string{"/dev/shm", "/run/gantry/mps/pipe"},
		},
		{
			name:      "whole MPS card: no client limits",
			shares:    []cdi.Share{{Device: cards[0].Device, Units: 100}},
			wantDevs:  []string{"nvidia.com/gpu=GPU-a", "gantry.dev/gpu=GPU-a"},
			wantEnv:   map[string]string{"NVIDIA_VISIBLE_DEVICES": "void", "GANTRY_DEVICE_SHARE_PERCENT": "100", "CUDA_MPS_PIPE_DIRECTORY": "/run/gantry/mps/pipe"},
			wantNoEnv: []string{"CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"},
			wantMount: []string{"/dev/shm", "/run/gantry/mps/pipe"},
		},
		{
			name:      "10% of a card without isolation: share recorded, no MPS",
			shares:    []cdi.Share{{Device: cards[1].Device, Units: 10}},
			wantDevs:  []string{"nvidia.com/gpu=GPU-b", "gantry.dev/gpu=GPU-b-p10"},
			wantEnv:   map[string]string{"GANTRY_DEVICE_SHARE_PERCENT": "10", "GANTRY_DEVICE_MEMORY_LIMIT_MIB": "8192"},
			wantNoEnv: []string{"CUDA_MPS_PIPE_DIRECTORY", "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"},
		},
		{
			name:      "two whole cards, one with MPS: the daemon's directories once",
			shares:    []cdi.Share{{Device: cards[0].Device, Units: 100}, {Device: cards[1].Device, Units: 100}},
			wantDevs:  []string{"nvidia.com/gpu=GPU-a", "gantry.dev/gpu=GPU-a", "nvidia.com/gpu=GPU-b", "gantry.dev/gpu=GPU-b"},
			wantEnv:   map[string]string{"NVIDIA_VISIBLE_DEVICES": "void"},
			wantMount: []string{"/dev/shm", "/run/gantry/mps/pipe"},
		},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			devs, err := w.Devices(tc.shares)
			require.NoError(t, err)
			if diff := cmp.Diff(tc.wantDevs, devs); diff != "" {
				t.Fatalf("devices (-want,+got):\n%s", diff)
			}
			spec := inject(t, []string{toolkit, own}, tc.podEnv, devs...)
			env := envMap(spec)
			for k, v := range tc.wantEnv {
				require.Equal(t, v, env[k], "env %s", k)
			}
			for _, k := range tc.wantNoEnv {
				require.NotContains(t, env, k)
			}
			var mounts []string
			for _, m := range spec.Mounts {
				mounts = append(mounts, m.Destination)
			}
			sort.Strings(mounts)
			if diff := cmp.Diff(tc.wantMount, mounts); diff != "" {
				t.Fatalf("mounts (-want,+got):\n%s", diff)
			}
			var nodes []string
			for _, d := range spec.Linux.Devices {
				nodes = append(nodes, d.Path)
			}
			require.Contains(t, nodes, "/dev/nvidiactl")
		})
	}
}

func TestSyncReplacesAtomicallyAndCleansUp(t *testing.T) {
	w, own, _ := newWriter(t, nil)
	a, b := gpu("GPU-a", 0, device.IsolationNone), gpu("GPU-b", 1, device.IsolationNone)
	a.Vendor, b.Vendor = "", "" // not NVIDIA: no toolkit device needed
	require.NoError(t, w.Sync([]cdi.Card{{Device: a}, {Device: b}}))
	require.Len(t, w.Specs(), 2)

	// A foreign spec in the same directory is left alone.
	foreign := filepath.Join(own, "vendor.example-thing.yaml")
	require.NoError(t, os.WriteFile(foreign, []byte("x"), 0o644))

	a.MemoryMiB = 40960
	require.NoError(t, w.Sync([]cdi.Card{{Device: a}}))
	entries, err := os.ReadDir(own)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	// The spec of GPU-b is gone, no temporary file is left behind.
	require.Equal(t, []string{"gantry.dev-gpu_GPU-a.json", "vendor.example-thing.yaml"}, names)
	spec, err := cdiapi.ReadSpec(filepath.Join(own, "gantry.dev-gpu_GPU-a.json"), 0)
	require.NoError(t, err)
	require.Contains(t, spec.GetDevice("GPU-a-p50").ContainerEdits.Env, "GANTRY_DEVICE_MEMORY_LIMIT_MIB=20480", "the spec was replaced")

	_, err = w.Devices([]cdi.Share{{Device: b, Units: 100}})
	require.ErrorContains(t, err, `device "GPU-b" has no CDI spec`)
}

func TestDevicesRefusesNVIDIAGPUWithoutToolkitSpec(t *testing.T) {
	w, _, _ := newWriter(t, nil)
	d := gpu("GPU-a", 0, device.IsolationNone)
	require.NoError(t, w.Sync([]cdi.Card{{Device: d}}))
	_, err := w.Devices([]cdi.Share{{Device: d, Units: 30}})
	require.ErrorIs(t, err, cdi.ErrNoToolkitDevice)
	require.ErrorContains(t, err, "nvidia-ctk cdi generate")
}

func TestSyncFallsBackToIndexNames(t *testing.T) {
	w, _, toolkit := newWriter(t, nil)
	toolkitSpec(t, toolkit, "0")
	d := gpu("GPU-a", 0, device.IsolationNone)
	require.NoError(t, w.Sync([]cdi.Card{{Device: d}}))
	devs, err := w.Devices([]cdi.Share{{Device: d, Units: 30}})
	require.NoError(t, err)
	require.Equal(t, []string{"nvidia.com/gpu=0", "gantry.dev/gpu=GPU-a-p30"}, devs)
}

func TestSyncRejectsBadInput(t *testing.T) {
	w, _, _ := newWriter(t, nil)
	bad := gpu("GPU a", 0, device.IsolationNone)
	mps := gpu("GPU-m", 1, device.IsolationMPS)
	err := w.Sync([]cdi.Card{{Device: bad}, {Device: mps}})
	require.ErrorContains(t, err, `device "GPU a" cannot be named in CDI`)
	require.ErrorContains(t, err, `device "GPU-m": isolation mps but no MPS directories configured`)

	_, err = cdi.New(cdi.Config{Dir: t.TempDir(), MPS: &cdi.MPS{PipeDir: "pipe", ShmDir: "/shm"}})
	require.ErrorContains(t, err, "must be absolute paths")
}

func TestNPUCardCarriesItsDeviceNodes(t *testing.T) {
	w, own, _ := newWriter(t, nil)
	n := device.Device{ID: "npu-0", Index: 4, Kind: device.NPU, Vendor: "huawei", Model: "Ascend910B", MemoryMiB: 65536, Health: device.Healthy, NUMANode: 0}
	require.NoError(t, w.Sync([]cdi.Card{{Device: n, DeviceNodes: []string{"/dev/full"}}}))
	devs, err := w.Devices([]cdi.Share{{Device: n, Units: 50}})
	require.NoError(t, err)
	require.Equal(t, []string{"gantry.dev/npu=npu-0-p50"}, devs)
	spec := inject(t, []string{own}, nil, devs...)
	require.Len(t, spec.Linux.Devices, 1)
	require.Equal(t, "/dev/full", spec.Linux.Devices[0].Path)
	require.Equal(t, "50", envMap(spec)["GANTRY_DEVICE_SHARE_PERCENT"])
}

// TestToolkitDirsMayBeMissing: a node without the toolkit's directories is
// served (NPUs), and its NVIDIA GPUs are refused with the cause.
func TestToolkitDirsMayBeMissing(t *testing.T) {
	w, err := cdi.New(cdi.Config{Dir: t.TempDir(), ToolkitDirs: []string{filepath.Join(t.TempDir(), "no", "such", "dir")}})
	require.NoError(t, err)
	g := gpu("GPU-a", 0, device.IsolationNone)
	require.NoError(t, w.Sync([]cdi.Card{{Device: g}}))
	_, err = w.Devices([]cdi.Share{{Device: g, Units: 100}})
	require.ErrorIs(t, err, cdi.ErrNoToolkitDevice)
}

// TestBrokenForeignSpecHidesOnlyItself: a spec of another vendor that does
// not parse leaves the toolkit's devices usable.
func TestBrokenForeignSpecHidesOnlyItself(t *testing.T) {
	w, _, toolkit := newWriter(t, nil)
	toolkitSpec(t, toolkit, "GPU-a")
	require.NoError(t, os.WriteFile(filepath.Join(toolkit, "broken.yaml"), []byte("cdiVersion: [\n"), 0o644))
	w2, err := cdi.New(cdi.Config{Dir: t.TempDir(), ToolkitDirs: []string{toolkit}})
	require.NoError(t, err)
	for _, w := range []*cdi.Writer{w, w2} {
		d := gpu("GPU-a", 0, device.IsolationNone)
		require.NoError(t, w.Sync([]cdi.Card{{Device: d}}))
		devs, err := w.Devices([]cdi.Share{{Device: d, Units: 100}})
		require.NoError(t, err)
		require.Equal(t, []string{"nvidia.com/gpu=GPU-a", "gantry.dev/gpu=GPU-a"}, devs)
	}
}
