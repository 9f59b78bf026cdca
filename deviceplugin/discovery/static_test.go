package discovery_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	testclock "k8s.io/utils/clock/testing"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
)

const npuFile = `apiVersion: gantry.dev/v1alpha1
kind: DeviceInventory
spec:
  visibleDevicesEnv: ASCEND_VISIBLE_DEVICES
  devices:
  - id: npu-a
    kind: npu
    vendor: huawei
    model: Ascend910B
    memoryMiB: 65536
    numaNode: 0
    linkGroup: hccs-0
    runtimeID: "0"
    devicePaths: [/dev/davinci0]
  - id: npu-b
    kind: npu
    vendor: huawei
    model: Ascend910B
    memoryMiB: 65536
    health: Unhealthy
    runtimeID: "1"
`

func writeFile(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "inventory.yaml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestStaticDevices(t *testing.T) {
	b := discovery.NewStatic(writeFile(t, t.TempDir(), npuFile), nil, time.Second)
	inv, err := b.Devices()
	require.NoError(t, err)
	want := device.Inventory{Devices: []device.Device{
		{ID: "npu-a", Index: 0, Kind: device.NPU, Vendor: "huawei", Model: "Ascend910B", MemoryMiB: 65536, Health: device.Healthy, NUMANode: 0, LinkGroup: "hccs-0"},
		{ID: "npu-b", Index: 1, Kind: device.NPU, Vendor: "huawei", Model: "Ascend910B", MemoryMiB: 65536, Health: device.Unhealthy, NUMANode: device.NoNUMA},
	}}
	if diff := cmp.Diff(want, inv); diff != "" {
		t.Errorf("inventory (-want,+got):\n%s", diff)
	}
	wantRT := discovery.Runtime{
		"npu-a": {VisibleDevicesEnv: "ASCEND_VISIBLE_DEVICES", RuntimeID: "0", Paths: []string{"/dev/davinci0"}},
		"npu-b": {VisibleDevicesEnv: "ASCEND_VISIBLE_DEVICES", RuntimeID: "1"},
	}
	if diff := cmp.Diff(wantRT, b.Runtime()); diff != "" {
		t.Errorf("runtime (-want,+got):\n%s", diff)
	}
}

func TestStaticMalformed(t *testing.T) {
	head := "apiVersion: gantry.dev/v1alpha1\nkind: DeviceInventory\n"
	testCases := []struct {
		name, file, wantErr string
	}{
		{"empty", "", "empty file"},
		{"not yaml", "spec: [", "not valid YAML"},
		{"unknown field with path", head + "spec:\n  devices:\n  - id: a\n    kind: npu\n    model: X\n    memoryMiB: 1\n    modle: Y\n",
			`unknown field "spec.devices[0].modle"`},
		{"duplicate key", head + "spec:\n  devices: []\n  devices: []\n", `key "devices" already set in map`},
		{"wrong version", "apiVersion: gantry.dev/v2\nkind: DeviceInventory\nspec:\n  devices:\n  - {id: a, kind: npu, model: X, memoryMiB: 1}\n",
			`apiVersion: Unsupported value: "gantry.dev/v2": supported values: "gantry.dev/v1alpha1"`},
		{"wrong kind", "apiVersion: gantry.dev/v1alpha1\nkind: Inventory\nspec:\n  devices:\n  - {id: a, kind: npu, model: X, memoryMiB: 1}\n",
			`kind: Unsupported value: "Inventory"`},
		{"no devices", head + "spec:\n  devices: []\n", "spec.devices: Required value"},
		{"missing id", head + "spec:\n  devices:\n  - {kind: npu, model: X, memoryMiB: 1}\n", "spec.devices[0].id: Required value"},
		{"duplicate id", head + "spec:\n  devices:\n  - {id: a, kind: npu, model: X, memoryMiB: 1}\n  - {id: a, kind: npu, model: X, memoryMiB: 1}\n",
			`spec.devices[1].id: Duplicate value: "a"`},
		{"duplicate index", head + "spec:\n  devices:\n  - {id: a, index: 1, kind: npu, model: X, memoryMiB: 1}\n  - {id: b, kind: npu, model: X, memoryMiB: 1}\n",
			"spec.devices[1].index: Duplicate value: 1"},
		{"bad kind", head + "spec:\n  devices:\n  - {id: a, kind: tpu, model: X, memoryMiB: 1}\n", `spec.devices[0].kind: Unsupported value: "tpu"`},
		{"bad model", head + "spec:\n  devices:\n  - {id: a, kind: npu, model: 'x y', memoryMiB: 1}\n", `spec.devices[0].model: Invalid value: "x y"`},
		{"zero memory", head + "spec:\n  devices:\n  - {id: a, kind: npu, model: X}\n", "spec.devices[0].memoryMiB: Invalid value: 0: must be positive"},
		{"memory not a number", head + "spec:\n  devices:\n  - {id: a, kind: npu, model: X, memoryMiB: lots}\n", "memoryMiB"},
		{"bad numa", head + "spec:\n  devices:\n  - {id: a, kind: npu, model: X, memoryMiB: 1, numaNode: -2}\n", "spec.devices[0].numaNode: Invalid value: -2"},
		{"bad health", head + "spec:\n  devices:\n  - {id: a, kind: npu, model: X, memoryMiB: 1, health: Sick}\n", `spec.devices[0].health: Unsupported value: "Sick"`},
		{"relative device path", head + "spec:\n  devices:\n  - {id: a, kind: npu, model: X, memoryMiB: 1, devicePaths: [dev/x]}\n",
			`spec.devices[0].devicePaths[0]: Invalid value: "dev/x": must be an absolute path`},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), tc.file)
			_, err := discovery.NewStatic(p, nil, time.Second).Devices()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			require.Contains(t, err.Error(), p, "the error names the file")
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := discovery.NewStatic(filepath.Join(t.TempDir(), "nope.yaml"), nil, time.Second).Devices()
		require.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestStaticWatchReportsHealthBothWays(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, npuFile)
	clk := testclock.NewFakeClock(time.Unix(0, 0))
	b := discovery.NewStatic(p, clk, time.Second)
	_, err := b.Devices()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := b.Watch(ctx)
	require.NoError(t, err)

	tick := func() {
		require.Eventually(t, clk.HasWaiters, 5*time.Second, time.Millisecond)
		clk.Step(time.Second)
	}
	writeFile(t, dir, replaceOnce(npuFile, "    health: Unhealthy\n", ""))
	tick()
	ev := next(t, ch)
	require.Equal(t, "npu-b", ev.DeviceID)
	require.Equal(t, device.Healthy, ev.Health)

	// A broken file is ignored; the last good one stays in force.
	writeFile(t, dir, "kind: [")
	tick()
	quiet(t, ch)

	writeFile(t, dir, npuFile)
	tick()
	ev = next(t, ch)
	require.Equal(t, "npu-b", ev.DeviceID)
	require.Equal(t, device.Unhealthy, ev.Health)
	require.Equal(t, "set in inventory.yaml", ev.Reason)
}

func replaceOnce(s, old, new string) string {
	i := len(s)
	for j := 0; j+len(old) <= len(s); j++ {
		if s[j:j+len(old)] == old {
			i = j
			break
		}
	}
	if i == len(s) {
		panic("not found: " + old)
	}
	return s[:i] + new + s[i+len(old):]
}
