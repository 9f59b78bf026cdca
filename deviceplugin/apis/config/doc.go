// Package config holds the internal (defaulted and validated) configuration
// of the node agent, gantry-device-plugin. Its versioned form is in
// v1alpha1.
package config
