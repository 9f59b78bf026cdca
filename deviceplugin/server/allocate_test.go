package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/server"
)

func TestContainerResponse(t *testing.T) {
	inv := gpus(8)
	rt := discovery.Runtime{}
	testCases := []struct {
		name    string
		ids     []string
		want    *pluginapi.ContainerAllocateResponse
		wantErr string
	}{
		{
			name: "a quarter of one GPU, slot order irrelevant",
			ids:  append(slots(2, 50, 20), slots(2, 3, 5)...),
			want: &pluginapi.ContainerAllocateResponse{
				Envs: map[string]string{
					"NVIDIA_VISIBLE_DEVICES":         "GPU-2",
					"GANTRY_DEVICE_MEMORY_LIMIT_MIB": "20480",
					"GANTRY_DEVICE_SHARE_PERCENT":    "25",
				},
				Annotations: map[string]string{"gantry.dev/devices": "GPU-2=25"},
			},
		},
		{
			name: "two whole GPUs, ordered by index",
			ids:  append(slots(5, 0, 100), slots(1, 0, 100)...),
			want: &pluginapi.ContainerAllocateResponse{
				Envs: map[string]string{
					"NVIDIA_VISIBLE_DEVICES":         "GPU-1,GPU-5",
					"GANTRY_DEVICE_MEMORY_LIMIT_MIB": "81920,81920",
					"GANTRY_DEVICE_SHARE_PERCENT":    "100,100",
				},
				Annotations: map[string]string{"gantry.dev/devices": "GPU-1=100,GPU-5=100"},
			},
		},
		{name: "no IDs", ids: nil, wantErr: "no device IDs"},
		{name: "malformed ID", ids: []string{"GPU-1::0", "GPU-1"}, wantErr: `slot id "GPU-1": missing "::" separator`},
		{name: "slot index out of range", ids: []string{"GPU-1::100"}, wantErr: `slot id "GPU-1::100": slot index must be 0..99`},
		{name: "repeated ID", ids: []string{"GPU-1::7", "GPU-1::7"}, wantErr: `slot id "GPU-1::7" repeated`},
		{name: "unknown device", ids: []string{"GPU-9::0"}, wantErr: `slot IDs name device "GPU-9", which this node does not have`},
		{name: "share split over two GPUs", ids: append(slots(0, 0, 10), slots(3, 0, 15)...),
			wantErr: "a 25% share must come from one device, but the 25 slot IDs span 2 devices (10% of GPU-0, 15% of GPU-3)"},
		{name: "150 percent", ids: append(slots(0, 0, 100), slots(3, 0, 50)...),
			wantErr: "150 slot IDs are not a whole number of devices (above 100 a request must be a multiple of 100)"},
		{name: "whole devices made of parts", ids: append(append(slots(0, 0, 100), slots(3, 0, 50)...), slots(4, 0, 50)...),
			wantErr: "a request for 2 whole devices got a partial device: 100% of GPU-0, 50% of GPU-3, 50% of GPU-4"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := server.ContainerResponse(device.GPU, tc.ids, inv, rt, nil)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tc.want, got, cmpProto); diff != "" {
				t.Errorf("response (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestContainerResponseNPURuntime(t *testing.T) {
	inv := device.Inventory{Devices: []device.Device{
		{ID: "npu-a", Index: 0, Kind: device.NPU, Model: "Ascend910B", MemoryMiB: 65536, Health: device.Healthy, NUMANode: -1},
	}}
	rt := discovery.Runtime{"npu-a": {VisibleDevicesEnv: "ASCEND_VISIBLE_DEVICES", RuntimeID: "0", Paths: []string{"/dev/davinci0"}}}
	ids := []string{contract.SlotID("npu-a", 0), contract.SlotID("npu-a", 1)}
	got, err := server.ContainerResponse(device.NPU, ids, inv, rt, nil)
	require.NoError(t, err)
	want := &pluginapi.ContainerAllocateResponse{
		Envs: map[string]string{
			"ASCEND_VISIBLE_DEVICES":         "0",
			"GANTRY_DEVICE_MEMORY_LIMIT_MIB": "1310",
			"GANTRY_DEVICE_SHARE_PERCENT":    "2",
		},
		Devices:     []*pluginapi.DeviceSpec{{ContainerPath: "/dev/davinci0", HostPath: "/dev/davinci0", Permissions: "rw"}},
		Annotations: map[string]string{"gantry.dev/devices": "npu-a=2"},
	}
	if diff := cmp.Diff(want, got, cmpProto); diff != "" {
		t.Errorf("response (-want,+got):\n%s", diff)
	}

	_, err = server.ContainerResponse(device.GPU, ids, inv, rt, nil)
	require.EqualError(t, err, `slot IDs name device "npu-a" of kind npu; this plugin serves gpu`)
}

// TestContainerResponseCDI: under the cdi strategy a container gets the CDI
// devices of exactly its shares (the toolkit's device of each card and
// Gantry's device of each share) and no variable that selects devices.
func TestContainerResponseCDI(t *testing.T) {
	inv := gpus(8)
	w, err := cdi.New(cdi.Config{Dir: t.TempDir(), ToolkitDirs: []string{toolkitDir(t, inv)}})
	require.NoError(t, err)
	var cards []cdi.Card
	for _, d := range inv.Devices {
		cards = append(cards, cdi.Card{Device: d})
	}
	require.NoError(t, w.Sync(cards))
	testCases := []struct {
		name string
		ids  []string
		want []string
	}{
		{name: "a quarter of one GPU", ids: slots(2, 3, 25), want: []string{"nvidia.com/gpu=GPU-2", "gantry.dev/gpu=GPU-2-p25"}},
		{name: "two whole GPUs", ids: append(slots(5, 0, 100), slots(1, 0, 100)...),
			want: []string{"nvidia.com/gpu=GPU-1", "gantry.dev/gpu=GPU-1", "nvidia.com/gpu=GPU-5", "gantry.dev/gpu=GPU-5"}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := server.ContainerResponse(device.GPU, tc.ids, inv, discovery.Runtime{}, w)
			require.NoError(t, err)
			var names []string
			for _, d := range got.GetCdiDevices() {
				names = append(names, d.GetName())
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("CDI devices (-want,+got):\n%s", diff)
			}
			require.Empty(t, got.GetEnvs(), "no variable may select devices")
			require.Empty(t, got.GetDevices())
		})
	}
}

// toolkitDir writes a toolkit spec naming every GPU of inv by UUID.
func toolkitDir(t *testing.T, inv device.Inventory) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("cdiVersion: 0.6.0\nkind: nvidia.com/gpu\ndevices:\n")
	for _, d := range inv.Devices {
		fmt.Fprintf(&b, "- name: %s\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia%d\n      hostPath: /dev/null\n", d.ID, d.Index)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nvidia.yaml"), []byte(b.String()), 0o644))
	return dir
}
