// Package v1alpha1 is version v1alpha1 of the autoscaler configuration
// (apiVersion gantry.dev/v1alpha1, kind AutoscalerConfiguration): pointer
// fields with json tags, defaults, strict decoding and conversion to the
// internal types of package config.
package v1alpha1
