// Package v1alpha1 is the versioned, user-facing form of the Gantry
// scheduler plugin's arguments: gantry.dev/v1alpha1, kind DeviceShareArgs.
package v1alpha1
