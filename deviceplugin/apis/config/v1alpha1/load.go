package v1alpha1

import (
	"time"

	"github.com/gantry-dev/gantry/deviceplugin/apis/config"
	"github.com/gantry-dev/gantry/deviceplugin/apis/config/validation"
	"github.com/gantry-dev/gantry/internal/configfile"
)

// Load decodes a YAML or JSON file strictly (unknown and duplicate fields
// are errors), checks apiVersion and kind, defaults, converts and validates
// it.
func Load(data []byte) (*config.DevicePluginConfiguration, error) {
	var v DevicePluginConfiguration
	if err := configfile.Decode(data, "device plugin configuration", &v, &v.TypeMeta, GroupName+"/"+Version, Kind); err != nil {
		return nil, err
	}
	return Default(&v)
}

// Default defaults, converts and validates v; the agent uses it with an
// empty configuration when no file is given.
func Default(v *DevicePluginConfiguration) (*config.DevicePluginConfiguration, error) {
	SetDefaults_DevicePluginConfiguration(v)
	c := Convert(v)
	if errs := validation.ValidateDevicePluginConfiguration(c); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return c, nil
}

// Convert turns a defaulted v1alpha1 configuration into the internal one.
func Convert(v *DevicePluginConfiguration) *config.DevicePluginConfiguration {
	m := v.MPS
	var timeout time.Duration
	if v.APITimeout != nil {
		timeout = v.APITimeout.Duration
	}
	return &config.DevicePluginConfiguration{
		Mode:               config.Mode(*v.Mode),
		DeviceListStrategy: config.DeviceListStrategy(*v.DeviceListStrategy),
		CDI:                config.CDI{SpecDir: *v.CDI.SpecDir, ToolkitSpecDirs: append([]string(nil), v.CDI.ToolkitSpecDirs...)},
		MPS: config.MPS{
			Enabled: *m.Enabled, ControlBinary: *m.ControlBinary,
			PipeDir: *m.PipeDir, LogDir: *m.LogDir, ShmDir: *m.ShmDir,
			HealthInterval:        m.HealthInterval.Duration,
			RestartBackoffInitial: m.RestartBackoff.Initial.Duration,
			RestartBackoffMax:     m.RestartBackoff.Max.Duration,
		},
		APITimeout: timeout,
	}
}
