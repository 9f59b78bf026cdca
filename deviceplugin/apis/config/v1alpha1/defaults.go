package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Defaults of the fields left out.
const (
	DefaultMode               = "device-plugin"
	DefaultDeviceListStrategy = "cdi"
	DefaultCDISpecDir         = "/var/run/cdi"
	DefaultMPSControlBinary   = "nvidia-cuda-mps-control"
	DefaultMPSPipeDir         = "/run/gantry/mps/pipe"
	DefaultMPSLogDir          = "/run/gantry/mps/log"
	DefaultMPSShmDir          = "/run/gantry/mps/shm"
)

// DefaultToolkitSpecDirs are where nvidia-ctk and the GPU Operator write
// the toolkit's spec.
var DefaultToolkitSpecDirs = []string{"/etc/cdi", "/var/run/cdi"}

// SetDefaults_DevicePluginConfiguration fills in every field left out;
// apiTimeout only in device-plugin mode, where it applies.
func SetDefaults_DevicePluginConfiguration(c *DevicePluginConfiguration) { //nolint:revive // the Kubernetes defaulter naming
	if c.Mode == nil {
		c.Mode = ptr.To(DefaultMode)
	}
	if c.DeviceListStrategy == nil {
		c.DeviceListStrategy = ptr.To(DefaultDeviceListStrategy)
	}
	if c.CDI == nil {
		c.CDI = &CDI{}
	}
	if c.CDI.SpecDir == nil {
		c.CDI.SpecDir = ptr.To(DefaultCDISpecDir)
	}
	if len(c.CDI.ToolkitSpecDirs) == 0 {
		c.CDI.ToolkitSpecDirs = append([]string(nil), DefaultToolkitSpecDirs...)
	}
	if c.MPS == nil {
		c.MPS = &MPS{}
	}
	m := c.MPS
	if m.Enabled == nil {
		m.Enabled = ptr.To(false)
	}
	if m.ControlBinary == nil {
		m.ControlBinary = ptr.To(DefaultMPSControlBinary)
	}
	if m.PipeDir == nil {
		m.PipeDir = ptr.To(DefaultMPSPipeDir)
	}
	if m.LogDir == nil {
		m.LogDir = ptr.To(DefaultMPSLogDir)
	}
	if m.ShmDir == nil {
		m.ShmDir = ptr.To(DefaultMPSShmDir)
	}
	if m.HealthInterval == nil {
		m.HealthInterval = &metav1.Duration{Duration: 10 * time.Second}
	}
	if m.RestartBackoff == nil {
		m.RestartBackoff = &Backoff{}
	}
	if m.RestartBackoff.Initial == nil {
		m.RestartBackoff.Initial = &metav1.Duration{Duration: time.Second}
	}
	if m.RestartBackoff.Max == nil {
		m.RestartBackoff.Max = &metav1.Duration{Duration: time.Minute}
	}
	if c.APITimeout == nil && *c.Mode != "dra" {
		c.APITimeout = &metav1.Duration{Duration: 10 * time.Second}
	}
}
