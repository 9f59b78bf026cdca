// Package config holds the internal form of the Gantry scheduler plugin's
// arguments. Users write the versioned form (gantry.dev/v1alpha1,
// kind DeviceShareArgs) inside a KubeSchedulerConfiguration pluginConfig;
// package scheme decodes it strictly, defaults, converts and validates it.
package config
