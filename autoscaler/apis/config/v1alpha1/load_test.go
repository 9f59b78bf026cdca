package v1alpha1

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/core/device"
)

const good = `apiVersion: gantry.dev/v1alpha1
kind: AutoscalerConfiguration
nodeGroups:
  - name: a100-zone-a
    template:
      device: {model: A100, count: 8, memoryMiB: 81920}
      cpu: "64"
      memory: 512Gi
      zone: zone-a
      labels: {team: ml}
      taints: [{key: gantry.dev/gpu, value: "true", effect: NoSchedule}]
    minSize: 0
    maxSize: 50
    pricePerHour: 32
burstGroup:
  name: burst
  template:
    device: {model: T4, count: 1, memoryMiB: 16384}
  maxSize: 100
  pricePerHour: 2
scheduledMinimums:
  - name: office-hours
    group: a100-zone-a
    schedule: "0 8 * * 1-5"
    duration: 10h
    minSize: 4
limits: {maxNodes: 200, maxGPUs: 1000}
scaleDown: {unneededTime: 30s, utilizationThresholdPercent: 40}
`

func TestLoadDefaultsAndConverts(t *testing.T) {
	c, err := Load([]byte(good))
	require.NoError(t, err)
	require.Len(t, c.NodeGroups, 1)
	g := c.NodeGroups[0]
	assert.Equal(t, device.GPU, g.Template.Device.Kind)
	assert.Equal(t, 8, g.Template.Device.Count)
	assert.Equal(t, int64(110), g.Template.Pods)
	assert.Equal(t, 50, g.MaxSize)
	require.NotNil(t, c.BurstGroup)
	assert.True(t, c.BurstGroup.Burst)
	assert.Len(t, c.AllGroups(), 2)
	assert.Equal(t, 30*time.Second, c.ScaleDown.UnneededTime)
	assert.InDelta(t, 0.4, c.ScaleDown.UtilizationThreshold, 1e-9)
	assert.Equal(t, DefaultExpanders, c.Expanders)
	assert.Equal(t, DefaultBackoffInitial, c.Backoff.Initial)
	assert.Equal(t, 10*time.Hour, c.ScheduledMinimums[0].Duration)
	assert.True(t, c.ScaleDown.Enabled)
	assert.True(t, c.BalanceSimilarNodeGroups)
	assert.Equal(t, config.DeviceModeDevicePlugin, g.Template.Device.Mode, "device-plugin mode unless declared")
	assert.False(t, c.DRA())
}

// A group declares DRA mode on its cards; the configuration then needs
// the DRA objects.
func TestLoadDRAMode(t *testing.T) {
	c, err := Load([]byte(`apiVersion: gantry.dev/v1alpha1
kind: AutoscalerConfiguration
nodeGroups:
  - name: plugin
    maxSize: 3
    template: {device: {model: T4, count: 4}}
  - name: dra
    maxSize: 3
    template: {device: {model: A100, count: 8, memoryMiB: 81920, mode: DRA}}
  - name: cpu
    maxSize: 3
    template: {}
`))
	require.NoError(t, err)
	want := []config.DeviceMode{config.DeviceModeDevicePlugin, config.DeviceModeDRA, ""}
	var got []config.DeviceMode
	for _, g := range c.NodeGroups {
		got = append(got, g.Template.Device.Mode)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("modes (-want,+got):\n%s", diff)
	}
	assert.True(t, c.NodeGroups[1].Template.Device.DRA())
	assert.False(t, c.NodeGroups[0].Template.Device.DRA())
	assert.True(t, c.DRA())
}

func TestLoadRejects(t *testing.T) {
	head := "apiVersion: gantry.dev/v1alpha1\nkind: AutoscalerConfiguration\n"
	group := "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {device: {model: A100, count: 8}}\n"
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"unknown field", head + group + "bogus: 1\n", `unknown field "bogus"`},
		{"duplicate field", head + group + "scanInterval: 1s\nscanInterval: 2s\n", `"scanInterval" already set`},
		{"wrong apiVersion", "apiVersion: gantry.dev/v1\nkind: AutoscalerConfiguration\n" + group, `apiVersion: Unsupported value: "gantry.dev/v1"`},
		{"wrong kind", "apiVersion: gantry.dev/v1alpha1\nkind: Config\n" + group, `kind: Unsupported value: "Config"`},
		{"no groups", head, "nodeGroups: Required value"},
		{"no max", head + "nodeGroups:\n  - name: g\n    template: {}\n", "nodeGroups[0].maxSize: Required value"},
		{"max below min", head + "nodeGroups:\n  - name: g\n    minSize: 4\n    maxSize: 3\n    template: {}\n", "nodeGroups[0].maxSize: Invalid value: 3: below minSize 4"},
		{"negative min", head + "nodeGroups:\n  - name: g\n    minSize: -1\n    maxSize: 3\n    template: {}\n", "nodeGroups[0].minSize: Invalid value: -1"},
		{"bad name", head + "nodeGroups:\n  - name: G_1\n    maxSize: 3\n    template: {}\n", `nodeGroups[0].name: Invalid value: "G_1"`},
		{"duplicate name", head + group + "  - name: g\n    maxSize: 3\n    template: {}\n", `nodeGroups[1].name: Duplicate value: "g"`},
		{"bad kind", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {device: {kind: tpu, model: A100, count: 8}}\n", `nodeGroups[0].template.device.kind: Unsupported value: "tpu"`},
		{"bad model", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {device: {model: \"A 100\", count: 8}}\n", `nodeGroups[0].template.device.model: Invalid value: "A 100"`},
		{"MIG isolation in a template", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {device: {model: A100, count: 8, isolation: mig}}\n", `nodeGroups[0].template.device.isolation: Unsupported value: "mig": supported values: "none", "mps"`},
		{"unknown mode", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {device: {model: A100, count: 8, mode: dra}}\n", `nodeGroups[0].template.device.mode: Unsupported value: "dra": supported values: "DevicePlugin", "DRA"`},
		{"zero count", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {device: {model: A100, count: 0}}\n", "nodeGroups[0].template.device.count: Invalid value: 0"},
		{"count above share.MaxDevices", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {device: {model: A100, count: 1025}}\n", "nodeGroups[0].template.device.count: Invalid value: 1025: must be at most 1024"},
		{"zero eviction time", head + group + "scaleDown: {maxPodEvictionTime: 0s}\n", "scaleDown.maxPodEvictionTime: Invalid value: \"0s\": must be positive"},
		{"zero cpu", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {cpu: \"0\"}\n", `nodeGroups[0].template.cpu: Invalid value: "0"`},
		{"bad label", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {labels: {\"a b\": x}}\n", `nodeGroups[0].template.labels: Invalid value: "a b"`},
		{"bad taint effect", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    template: {taints: [{key: k, effect: Never}]}\n", `nodeGroups[0].template.taints[0].effect: Unsupported value: "Never"`},
		{"negative price", head + "nodeGroups:\n  - name: g\n    maxSize: 3\n    pricePerHour: -1\n    template: {}\n", "nodeGroups[0].pricePerHour: Invalid value: -1"},
		{"burst with min", head + group + "burstGroup: {name: b, minSize: 1, maxSize: 3, template: {}}\n", "burstGroup.minSize: Invalid value: 1"},
		{"scheduled unknown group", head + group + "scheduledMinimums: [{name: s, group: x, schedule: \"@daily\", duration: 1h, minSize: 1}]\n", `scheduledMinimums[0].group: Not found: "x"`},
		{"scheduled bad cron", head + group + "scheduledMinimums: [{name: s, group: g, schedule: \"61 * * * *\", duration: 1h, minSize: 1}]\n", `scheduledMinimums[0].schedule: Invalid value: "61 * * * *"`},
		{"scheduled no duration", head + group + "scheduledMinimums: [{name: s, group: g, schedule: \"@daily\", minSize: 1}]\n", "scheduledMinimums[0].duration: Invalid value"},
		{"scheduled above max", head + group + "scheduledMinimums: [{name: s, group: g, schedule: \"@daily\", duration: 1h, minSize: 9}]\n", "scheduledMinimums[0].minSize: Invalid value: 9: above the group's maxSize 3"},
		{"negative limit", head + group + "limits: {maxGPUs: -1}\n", "limits.maxGPUs: Invalid value: -1"},
		{"threshold", head + group + "scaleDown: {utilizationThresholdPercent: 150}\n", "scaleDown.utilizationThresholdPercent: Invalid value: 150"},
		{"negative unneeded", head + group + "scaleDown: {unneededTime: -1s}\n", "scaleDown.unneededTime: Invalid value"},
		{"max concurrent", head + group + "scaleDown: {maxConcurrent: 0}\n", "scaleDown.maxConcurrent: Invalid value: 0"},
		{"unknown expander", head + group + "expanders: [cheapest]\n", `expanders[0]: Unsupported value: "cheapest"`},
		{"duplicate expander", head + group + "expanders: [price, price]\n", `expanders[1]: Duplicate value: "price"`},
		{"provision time", head + group + "maxNodeProvisionTime: 0s\n", "maxNodeProvisionTime: Invalid value"},
		{"backoff max", head + group + "backoff: {initial: 10m, max: 1m}\n", "backoff.max: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestSampleManifestLoads(t *testing.T) {
	data, err := os.ReadFile("../../../../manifests/autoscaler/autoscaler-config.yaml")
	require.NoError(t, err)
	c, err := Load(data)
	require.NoError(t, err)
	assert.Len(t, c.AllGroups(), 4)
}

func TestLoadTemplateIsolation(t *testing.T) {
	c, err := Load([]byte("apiVersion: gantry.dev/v1alpha1\nkind: AutoscalerConfiguration\nnodeGroups:\n  - name: g\n    maxSize: 3\n    template: {device: {model: A100, count: 8, isolation: mps}}\n"))
	require.NoError(t, err)
	assert.Equal(t, device.IsolationMPS, c.NodeGroups[0].Template.Device.Isolation)
}
