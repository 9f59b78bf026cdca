// Package config holds the internal types of the autoscaler's configuration.
// Files are written in the versioned form (package v1alpha1, group
// gantry.dev, kind AutoscalerConfiguration); v1alpha1 decodes them strictly,
// defaults and converts them to these types, and package validation checks
// them with field paths.
package config
