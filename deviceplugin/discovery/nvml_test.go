package discovery_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	testclock "k8s.io/utils/clock/testing"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/discovery/nvmltest"
)

func TestNVMLDevicesOnDGXA100(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	inv, err := discovery.NewNVML(srv).Devices()
	require.NoError(t, err)
	require.Len(t, inv.Devices, 8)
	for i, d := range inv.Devices {
		want := device.Device{
			ID: nvmltest.UUID(i), Index: i, Kind: device.GPU, Vendor: "nvidia", Model: "A100-SXM4-40GB",
			MemoryMiB: 40 * 1024, Health: device.Healthy, NUMANode: i / 4, LinkGroup: "nvlink-0",
		}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("device %d (-want,+got):\n%s", i, diff)
		}
	}
	// The inventory round-trips through the wire format everyone reads.
	enc, err := contract.EncodeInventory(inv)
	require.NoError(t, err)
	dec, err := contract.DecodeInventory("n1", enc)
	require.NoError(t, err)
	require.Equal(t, inv, dec)
}

// withMIG puts GPU 7 of srv in MIG mode with a 3g.20gb and a 1g.5gb
// instance (slots 0 and 2; slot 1 empty).
func withMIG(srv *nvmltest.Server) {
	g := srv.GPU(7)
	g.MigMode = nvml.DEVICE_MIG_ENABLE
	instances := map[int]*mock.Device{
		0: {GetUUIDFunc: func() (string, nvml.Return) { return "MIG-aaaa", nvml.SUCCESS },
			GetAttributesFunc: func() (nvml.DeviceAttributes, nvml.Return) {
				return nvml.DeviceAttributes{GpuInstanceSliceCount: 3, ComputeInstanceSliceCount: 3, MemorySizeMB: 19968}, nvml.SUCCESS
			}},
		2: {GetUUIDFunc: func() (string, nvml.Return) { return "MIG-bbbb", nvml.SUCCESS },
			GetAttributesFunc: func() (nvml.DeviceAttributes, nvml.Return) {
				return nvml.DeviceAttributes{GpuInstanceSliceCount: 1, ComputeInstanceSliceCount: 1, MemorySizeMB: 4864}, nvml.SUCCESS
			}},
	}
	g.GetMaxMigDeviceCountFunc = func() (int, nvml.Return) { return 7, nvml.SUCCESS }
	g.GetMigDeviceHandleByIndexFunc = func(j int) (nvml.Device, nvml.Return) {
		if d, ok := instances[j]; ok {
			return d, nvml.SUCCESS
		}
		return nil, nvml.ERROR_NOT_FOUND
	}
}

func TestNVMLPublishesMIGInstances(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	withMIG(srv)

	b := discovery.NewNVML(srv)
	inv, err := b.Devices()
	require.NoError(t, err)
	require.Len(t, inv.Devices, 9, "7 whole GPUs and 2 MIG instances of GPU 7")
	_, whole := inv.ByID(nvmltest.UUID(7))
	require.False(t, whole, "a GPU in MIG mode is published as its instances")
	got := inv.Devices[7:]
	want := []device.Device{
		{ID: "MIG-aaaa", Index: 8 + 7*7 + 0, Kind: device.GPU, Vendor: "nvidia", Model: "A100-3g.20gb", MemoryMiB: 19968, Health: device.Healthy,
			NUMANode: 1, Isolation: device.IsolationMIG, MIG: &device.MIG{Parent: nvmltest.UUID(7), Profile: "3g.20gb"}},
		{ID: "MIG-bbbb", Index: 8 + 7*7 + 2, Kind: device.GPU, Vendor: "nvidia", Model: "A100-1g.5gb", MemoryMiB: 4864, Health: device.Healthy,
			NUMANode: 1, Isolation: device.IsolationMIG, MIG: &device.MIG{Parent: nvmltest.UUID(7), Profile: "1g.5gb"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("MIG devices (-want,+got):\n%s", diff)
	}
	require.Equal(t, "MIG-bbbb", b.Runtime()["MIG-bbbb"].RuntimeID)
	require.NotContains(t, b.Runtime(), nvmltest.UUID(7))
	_, err = contract.EncodeInventory(inv)
	require.NoError(t, err, "the inventory contract accepts MIG instances")

	inv, err = discovery.NewNVML(srv, discovery.WithMIGDevices(false)).Devices()
	require.NoError(t, err)
	require.Len(t, inv.Devices, 7)
}

// TestNVMLMIGInstancesShareTheirGPUsHealth: a fault of a GPU in MIG mode
// takes down each of its instances.
func TestNVMLMIGInstancesShareTheirGPUsHealth(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	withMIG(srv)
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	b := discovery.NewNVML(srv, discovery.WithClock(clk), discovery.WithEventWait(time.Millisecond))
	_, err := b.Devices()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Watch(ctx)
	require.NoError(t, err)
	srv.InjectXID(7, 79)
	var ids []string
	for i := 0; i < 2; i++ {
		ev := <-ch
		require.Equal(t, device.Unhealthy, ev.Health)
		ids = append(ids, ev.DeviceID)
	}
	require.Equal(t, []string{"MIG-aaaa", "MIG-bbbb"}, ids)
}

func TestNVMLNUMAFallsBackToSysfs(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	root := t.TempDir()
	for i := 0; i < 8; i++ {
		srv.GPU(i).GetNumaNodeIdFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_FUNCTION_NOT_FOUND }
		if i == 5 {
			continue // no sysfs entry: unknown
		}
		dir := filepath.Join(root, "bus", "pci", "devices", strings.ToLower(nvmltest.BusID(i)[4:]))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "numa_node"), []byte("3\n"), 0o644))
	}
	b := discovery.NewNVML(srv, discovery.WithSysfsRoot(root))
	inv, err := b.Devices()
	require.NoError(t, err)
	for i, d := range inv.Devices {
		want, src := 3, "sysfs"
		if i == 5 {
			want, src = device.NoNUMA, "unknown"
		}
		require.Equal(t, want, d.NUMANode, "device %d", i)
		require.Equal(t, src, b.Details()[i].NUMASource, "device %d", i)
	}
}

func TestNVMLDirectNVLinkPairs(t *testing.T) {
	srv := nvmltest.NewDGXA100()
	peer := map[int]int{0: 1, 1: 0, 2: 3, 3: 2}
	for i := 0; i < 8; i++ {
		p, linked := peer[i]
		srv.GPU(i).GetNvLinkStateFunc = func(link int) (nvml.EnableState, nvml.Return) {
			if !linked {
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			if link > 1 {
				return nvml.FEATURE_DISABLED, nvml.SUCCESS
			}
			return nvml.FEATURE_ENABLED, nvml.SUCCESS
		}
		srv.GPU(i).GetNvLinkRemotePciInfoFunc = func(int) (nvml.PciInfo, nvml.Return) {
			return srv.GPU(p).GetPciInfo()
		}
	}
	inv, err := discovery.NewNVML(srv).Devices()
	require.NoError(t, err)
	var got []string
	for _, d := range inv.Devices {
		got = append(got, d.LinkGroup)
	}
	require.Equal(t, []string{"nvlink-0", "nvlink-0", "nvlink-2", "nvlink-2", "", "", "", ""}, got)
}

// TestNVMLFailures fails every NVML call discovery makes, one at a time, and
// checks that each gives an error naming the call and the device, that
// unwraps to the NVML return code, and that nothing panics.
func TestNVMLFailures(t *testing.T) {
	const bad = 3
	lost := nvml.ERROR_GPU_IS_LOST
	testCases := []struct {
		name    string
		break_  func(s *nvmltest.Server)
		wantErr string // empty: discovery succeeds (the call is optional)
	}{
		{"Init", func(s *nvmltest.Server) { s.InitFunc = func() nvml.Return { return nvml.ERROR_DRIVER_NOT_LOADED } }, "nvml Init: ERROR_DRIVER_NOT_LOADED"},
		{"DeviceGetCount", func(s *nvmltest.Server) {
			s.DeviceGetCountFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_UNINITIALIZED }
		}, "nvml DeviceGetCount: ERROR_UNINITIALIZED"},
		{"DeviceGetHandleByIndex", func(s *nvmltest.Server) {
			s.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
				if i == bad {
					return nil, lost
				}
				return s.Devices[i], nvml.SUCCESS
			}
		}, "nvml device 3: DeviceGetHandleByIndex: ERROR_GPU_IS_LOST"},
		{"GetUUID", func(s *nvmltest.Server) { s.GPU(bad).GetUUIDFunc = func() (string, nvml.Return) { return "", lost } }, "nvml device 3: GetUUID: ERROR_GPU_IS_LOST"},
		{"GetName", func(s *nvmltest.Server) { s.GPU(bad).GetNameFunc = func() (string, nvml.Return) { return "", lost } }, "nvml device 3: GetName: ERROR_GPU_IS_LOST"},
		{"GetMemoryInfo", func(s *nvmltest.Server) { s.SetLost(bad, true) }, "nvml device 3: GetMemoryInfo: ERROR_GPU_IS_LOST"},
		{"GetMigMode", func(s *nvmltest.Server) {
			s.GPU(bad).GetMigModeFunc = func() (int, int, nvml.Return) { return 0, 0, nvml.ERROR_UNKNOWN }
		}, "nvml device 3: GetMigMode: ERROR_UNKNOWN"},
		{"GetMigMode not supported", func(s *nvmltest.Server) {
			s.GPU(bad).GetMigModeFunc = func() (int, int, nvml.Return) { return 0, 0, nvml.ERROR_NOT_SUPPORTED }
		}, ""},
		{"GetPciInfo", func(s *nvmltest.Server) {
			s.GPU(bad).GetPciInfoFunc = func() (nvml.PciInfo, nvml.Return) { return nvml.PciInfo{}, lost }
		}, "nvml device 3: GetPciInfo: ERROR_GPU_IS_LOST"},
		{"GetNumaNodeId", func(s *nvmltest.Server) {
			s.GPU(bad).GetNumaNodeIdFunc = func() (int, nvml.Return) { return 0, lost }
		}, ""},
		{"GetNvLinkState", func(s *nvmltest.Server) {
			s.GPU(bad).GetNvLinkStateFunc = func(int) (nvml.EnableState, nvml.Return) { return 0, lost }
		}, ""},
		{"GetNvLinkRemotePciInfo", func(s *nvmltest.Server) {
			s.GPU(bad).GetNvLinkRemotePciInfoFunc = func(int) (nvml.PciInfo, nvml.Return) { return nvml.PciInfo{}, lost }
		}, ""},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			srv := nvmltest.NewDGXA100()
			tc.break_(srv)
			var inv device.Inventory
			var err error
			require.NotPanics(t, func() { inv, err = discovery.NewNVML(srv).Devices() })
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Len(t, inv.Devices, 8)
				return
			}
			require.EqualError(t, err, tc.wantErr)
			var nerr *discovery.NVMLError
			require.True(t, errors.As(err, &nerr))
			require.Equal(t, tc.name, nerr.Call)
		})
	}
}

func TestModelFromName(t *testing.T) {
	for name, want := range map[string]string{
		"NVIDIA A100-SXM4-40GB":   "A100-SXM4-40GB",
		"Tesla V100-SXM2-16GB":    "V100-SXM2-16GB",
		"NVIDIA H100 80GB HBM3":   "H100-80GB-HBM3",
		"NVIDIA GeForce RTX 4090": "RTX-4090",
		"  ":                      "unknown",
		"NVIDIA A10 (rev 1)":      "A10-rev-1",
	} {
		require.Equal(t, want, discovery.ModelFromName(name), name)
	}
}
