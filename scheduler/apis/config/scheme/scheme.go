// Package scheme decodes the Gantry scheduler plugin's arguments: strictly
// (unknown or duplicate fields are errors), defaulted, converted to the
// internal form and validated with field paths.
package scheme

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/scheduler/apis/config/validation"
)

var (
	// Scheme knows the internal and gantry.dev/v1alpha1 plugin args.
	Scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(Scheme, serializer.EnableStrict)
)

func init() {
	utilruntime.Must(config.AddToScheme(Scheme))
	utilruntime.Must(v1alpha1.AddToScheme(Scheme))
}

// DecodeArgs decodes raw (JSON or YAML) plugin args. Empty input yields the
// defaults. apiVersion and kind may be omitted and default to
// gantry.dev/v1alpha1 DeviceShareArgs.
func DecodeArgs(raw []byte, path *field.Path) (*config.DeviceShareArgs, error) {
	versioned := &v1alpha1.DeviceShareArgs{}
	if len(raw) > 0 {
		gvk := v1alpha1.SchemeGroupVersion.WithKind("DeviceShareArgs")
		obj, got, err := codecs.UniversalDeserializer().Decode(raw, &gvk, versioned)
		if err != nil {
			return nil, fmt.Errorf("%s: decoding %s: %w", path, gvk.Kind, err)
		}
		if got.GroupVersion() != v1alpha1.SchemeGroupVersion || got.Kind != gvk.Kind {
			return nil, fmt.Errorf("%s: want %s, got %s", path, gvk, got)
		}
		versioned = obj.(*v1alpha1.DeviceShareArgs)
	}
	Scheme.Default(versioned)
	out := &config.DeviceShareArgs{}
	if err := Scheme.Convert(versioned, out, nil); err != nil {
		return nil, fmt.Errorf("%s: converting: %w", path, err)
	}
	if errs := validation.ValidateDeviceShareArgs(path, out); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return out, nil
}

// ArgsOf decodes the args kube-scheduler passes the plugin named plugin: a
// *runtime.Unknown holding gantry.dev/v1alpha1 DeviceShareArgs (how
// out-of-tree args arrive), an already decoded *config.DeviceShareArgs, or
// nil for the defaults. Errors name the plugin's args in the profile.
func ArgsOf(obj runtime.Object, plugin string) (*config.DeviceShareArgs, error) {
	path := field.NewPath("pluginConfig").Key(plugin).Child("args")
	switch a := obj.(type) {
	case nil:
		return DecodeArgs(nil, path)
	case *runtime.Unknown:
		return DecodeArgs(a.Raw, path)
	case *config.DeviceShareArgs:
		return a, nil
	default:
		return nil, fmt.Errorf("%s: want args of type DeviceShareArgs, got %T", path, obj)
	}
}
