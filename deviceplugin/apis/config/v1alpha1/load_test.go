package v1alpha1_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/deviceplugin/apis/config"
	"github.com/gantry-dev/gantry/deviceplugin/apis/config/v1alpha1"
)

const header = "apiVersion: gantry.dev/v1alpha1\nkind: DevicePluginConfiguration\n"

func defaults() *config.DevicePluginConfiguration {
	return &config.DevicePluginConfiguration{
		Mode:               config.ModeDevicePlugin,
		DeviceListStrategy: config.StrategyCDI,
		CDI:                config.CDI{SpecDir: "/var/run/cdi", ToolkitSpecDirs: []string{"/etc/cdi", "/var/run/cdi"}},
		MPS: config.MPS{ControlBinary: "nvidia-cuda-mps-control", PipeDir: "/run/gantry/mps/pipe", LogDir: "/run/gantry/mps/log",
			ShmDir: "/run/gantry/mps/shm", HealthInterval: 10 * time.Second, RestartBackoffInitial: time.Second, RestartBackoffMax: time.Minute},
		APITimeout: 10 * time.Second,
	}
}

func TestLoad(t *testing.T) {
	testCases := []struct {
		name    string
		in      string
		want    func(*config.DevicePluginConfiguration)
		wantErr string
	}{
		{name: "empty file: safe defaults (CDI, no MPS)", in: header, want: func(*config.DevicePluginConfiguration) {}},
		{name: "MPS on", in: header + "mps:\n  enabled: true\n  healthInterval: 3s\n  restartBackoff: {initial: 500ms, max: 20s}\n",
			want: func(c *config.DevicePluginConfiguration) {
				c.MPS.Enabled, c.MPS.HealthInterval = true, 3*time.Second
				c.MPS.RestartBackoffInitial, c.MPS.RestartBackoffMax = 500*time.Millisecond, 20*time.Second
			}},
		{name: "envvar strategy", in: header + "deviceListStrategy: envvar\n",
			want: func(c *config.DevicePluginConfiguration) { c.DeviceListStrategy = config.StrategyEnvVar }},
		{name: "unknown strategy", in: header + "deviceListStrategy: volume-mounts\n",
			wantErr: `deviceListStrategy: Unsupported value: "volume-mounts": supported values: "cdi", "envvar"`},
		{name: "MPS needs CDI", in: header + "deviceListStrategy: envvar\nmps: {enabled: true}\n",
			wantErr: "mps.enabled: Invalid value: true: MPS limits are delivered by CDI; set deviceListStrategy: cdi"},
		{name: "relative directory", in: header + "cdi: {specDir: run/cdi}\n",
			wantErr: `cdi.specDir: Invalid value: "run/cdi": must be an absolute path`},
		{name: "shared MPS directories", in: header + "mps: {pipeDir: /run/mps, shmDir: /run/mps/}\n",
			wantErr: `mps.shmDir: Invalid value: "/run/mps/": must differ from pipeDir`},
		{name: "backoff max below initial", in: header + "mps: {restartBackoff: {initial: 1m, max: 1s}}\n",
			wantErr: `mps.restartBackoff.max: Invalid value: "1s": must not be below initial`},
		{name: "zero timeout", in: header + "apiTimeout: 0s\n", wantErr: `apiTimeout: Invalid value: "0s": must be positive`},
		{name: "unknown field", in: header + "mps: {enable: true}\n", wantErr: `unknown field "enable"`},
		{name: "device-plugin mode said out loud", in: header + "mode: device-plugin\n", want: func(*config.DevicePluginConfiguration) {}},
		{name: "DRA mode: CDI, no MPS, no API timeout", in: header + "mode: dra\ncdi: {specDir: /run/cdi}\n",
			want: func(c *config.DevicePluginConfiguration) {
				c.Mode, c.CDI.SpecDir, c.APITimeout = config.ModeDRA, "/run/cdi", 0
			}},
		{name: "unknown mode", in: header + "mode: kubelet\n",
			wantErr: `mode: Unsupported value: "kubelet": supported values: "device-plugin", "dra"`},
		{name: "mode is case-sensitive", in: header + "mode: DRA\n", wantErr: `mode: Unsupported value: "DRA"`},
		{name: "DRA mode needs CDI", in: header + "mode: dra\ndeviceListStrategy: envvar\n",
			wantErr: `deviceListStrategy: Invalid value: "envvar": mode dra hands devices over as CDI devices only; set deviceListStrategy: cdi`},
		{name: "DRA mode refuses MPS", in: header + "mode: dra\nmps: {enabled: true}\n",
			wantErr: "mps.enabled: Forbidden: mode dra does not run the MPS daemon yet"},
		{name: "DRA mode refuses an API timeout it would not apply", in: header + "mode: dra\napiTimeout: 10s\n",
			wantErr: "apiTimeout: Forbidden: mode dra has no per-call API timeout"},
		{name: "DRA mode names every problem", in: header + "mode: dra\ndeviceListStrategy: envvar\nmps: {enabled: true}\n",
			wantErr: "[mps.enabled: Invalid value: true: MPS limits are delivered by CDI; set deviceListStrategy: cdi, " +
				"deviceListStrategy: Invalid value: \"envvar\": mode dra hands devices over as CDI devices only; set deviceListStrategy: cdi, " +
				"mps.enabled: Forbidden: mode dra does not run the MPS daemon yet"},
		{name: "wrong kind", in: "apiVersion: gantry.dev/v1alpha1\nkind: AutoscalerConfiguration\n",
			wantErr: `kind: Unsupported value: "AutoscalerConfiguration": supported values: "DevicePluginConfiguration"`},
		{name: "wrong version", in: "apiVersion: gantry.dev/v1\nkind: DevicePluginConfiguration\n",
			wantErr: `apiVersion: Unsupported value: "gantry.dev/v1"`},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v1alpha1.Load([]byte(tc.in))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			want := defaults()
			tc.want(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("(-want,+got):\n%s", diff)
			}
		})
	}
}

// FuzzLoad: any input is either refused with an error or yields a
// configuration that passes validation again; never a panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(header))
	f.Add([]byte(header + "mps:\n  enabled: true\n"))
	f.Add([]byte(header + "deviceListStrategy: envvar\ncdi: {specDir: /x, toolkitSpecDirs: [/a, /b]}\n"))
	f.Add([]byte(header + "mode: dra\n"))
	f.Add([]byte(header + "mode: dra\nmps: {enabled: true}\napiTimeout: 1s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := v1alpha1.Load(data)
		if err != nil {
			return
		}
		require.Contains(t, config.Modes, c.Mode)
		require.NotEmpty(t, c.DeviceListStrategy)
		if c.Mode == config.ModeDRA {
			// What DRA mode cannot do never gets through.
			require.Equal(t, config.StrategyCDI, c.DeviceListStrategy)
			require.False(t, c.MPS.Enabled)
			require.Zero(t, c.APITimeout)
			return
		}
		require.Positive(t, c.APITimeout)
	})
}
