// Package configfile decodes the versioned configuration files Gantry's
// components read (the autoscaler's and the node agent's): strictly, so
// that an unknown or duplicate field is an error rather than a setting
// silently ignored, and only for the one apiVersion and kind the caller
// knows. Defaulting, conversion and validation stay with each API.
package configfile

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Decode unmarshals data (YAML or JSON) into into, whose embedded TypeMeta
// is typeMeta, and checks that the file declares apiVersion and kind. what
// names the file's content in errors ("autoscaler configuration").
func Decode(data []byte, what string, into any, typeMeta *metav1.TypeMeta, apiVersion, kind string) error {
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		return fmt.Errorf("decoding %s: %w", what, err)
	}
	var errs field.ErrorList
	if typeMeta.APIVersion != apiVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), typeMeta.APIVersion, []string{apiVersion}))
	}
	if typeMeta.Kind != kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), typeMeta.Kind, []string{kind}))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", what, errs.ToAggregate())
	}
	return nil
}
