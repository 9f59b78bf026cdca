package validation

import (
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/deviceplugin/apis/config"
)

// ValidateDevicePluginConfiguration returns every problem in c.
func ValidateDevicePluginConfiguration(c *config.DevicePluginConfiguration) field.ErrorList {
	var errs field.ErrorList
	switch c.Mode {
	case config.ModeDevicePlugin, config.ModeDRA:
	default:
		var valid []string
		for _, m := range config.Modes {
			valid = append(valid, string(m))
		}
		errs = append(errs, field.NotSupported(field.NewPath("mode"), c.Mode, valid))
	}
	switch c.DeviceListStrategy {
	case config.StrategyCDI, config.StrategyEnvVar:
	default:
		var valid []string
		for _, s := range config.Strategies {
			valid = append(valid, string(s))
		}
		errs = append(errs, field.NotSupported(field.NewPath("deviceListStrategy"), c.DeviceListStrategy, valid))
	}
	p := field.NewPath("cdi")
	errs = append(errs, absDir(p.Child("specDir"), c.CDI.SpecDir)...)
	for i, d := range c.CDI.ToolkitSpecDirs {
		errs = append(errs, absDir(p.Child("toolkitSpecDirs").Index(i), d)...)
	}
	m := field.NewPath("mps")
	if c.MPS.ControlBinary == "" || strings.ContainsAny(c.MPS.ControlBinary, " \t\n") {
		errs = append(errs, field.Invalid(m.Child("controlBinary"), c.MPS.ControlBinary, "must be a program name or path without white space"))
	}
	dirs := map[string]string{}
	for _, nd := range [][2]string{{"pipeDir", c.MPS.PipeDir}, {"logDir", c.MPS.LogDir}, {"shmDir", c.MPS.ShmDir}} {
		name, d := nd[0], nd[1]
		errs = append(errs, absDir(m.Child(name), d)...)
		if other, ok := dirs[filepath.Clean(d)]; ok {
			errs = append(errs, field.Invalid(m.Child(name), d, "must differ from "+other))
		}
		dirs[filepath.Clean(d)] = name
	}
	if c.MPS.Enabled && c.DeviceListStrategy != config.StrategyCDI {
		errs = append(errs, field.Invalid(m.Child("enabled"), c.MPS.Enabled, "MPS limits are delivered by CDI; set deviceListStrategy: cdi"))
	}
	errs = append(errs, positive(m.Child("healthInterval"), c.MPS.HealthInterval)...)
	errs = append(errs, positive(m.Child("restartBackoff", "initial"), c.MPS.RestartBackoffInitial)...)
	errs = append(errs, positive(m.Child("restartBackoff", "max"), c.MPS.RestartBackoffMax)...)
	if c.MPS.RestartBackoffMax < c.MPS.RestartBackoffInitial {
		errs = append(errs, field.Invalid(m.Child("restartBackoff", "max"), c.MPS.RestartBackoffMax.String(), "must not be below initial"))
	}
	if c.Mode == config.ModeDRA {
		return append(errs, validateDRAMode(c)...)
	}
	errs = append(errs, positive(field.NewPath("apiTimeout"), c.APITimeout)...)
	return errs
}

// validateDRAMode refuses what DRA mode cannot do (yet), each by its own
// field, rather than ignoring it.
func validateDRAMode(c *config.DevicePluginConfiguration) field.ErrorList {
	var errs field.ErrorList
	if c.DeviceListStrategy != config.StrategyCDI {
		errs = append(errs, field.Invalid(field.NewPath("deviceListStrategy"), c.DeviceListStrategy,
			"mode dra hands devices over as CDI devices only; set deviceListStrategy: cdi"))
	}
	if c.MPS.Enabled {
		errs = append(errs, field.Forbidden(field.NewPath("mps", "enabled"),
			"mode dra does not run the MPS daemon yet (its cards publish isolation none or mig); disable MPS or run this node in mode device-plugin"))
	}
	if c.APITimeout != 0 {
		errs = append(errs, field.Forbidden(field.NewPath("apiTimeout"),
			"mode dra has no per-call API timeout (kubelet's deadline bounds each prepare call and the slice publisher keeps a watch open); leave apiTimeout out"))
	}
	return errs
}

func absDir(p *field.Path, d string) field.ErrorList {
	if d == "" || !filepath.IsAbs(d) {
		return field.ErrorList{field.Invalid(p, d, "must be an absolute path")}
	}
	return nil
}

func positive(p *field.Path, d time.Duration) field.ErrorList {
	if d <= 0 {
		return field.ErrorList{field.Invalid(p, d.String(), "must be positive")}
	}
	return nil
}
