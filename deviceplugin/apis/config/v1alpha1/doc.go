// Package v1alpha1 is version v1alpha1 of gantry-device-plugin's
// configuration file (apiVersion gantry.dev/v1alpha1, kind
// DevicePluginConfiguration).
package v1alpha1
