package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GroupName and Version name this API; Kind is its only kind.
const (
	GroupName = "gantry.dev"
	Version   = "v1alpha1"
	Kind      = "DevicePluginConfiguration"
)

// DevicePluginConfiguration configures gantry-device-plugin.
type DevicePluginConfiguration struct {
	metav1.TypeMeta `json:",inline"`

	// Mode is "device-plugin" (default: kubelet's device-plugin API) or
	// "dra" (the DRA driver gpu.gantry.dev). One mode per agent, so a card
	// is never offered both ways. dra needs deviceListStrategy cdi and does
	// not run MPS yet.
	Mode *string `json:"mode,omitempty"`

	// DeviceListStrategy is "cdi" (default) or "envvar". envvar is not
	// tamper-proof; see the device plugin's README.
	DeviceListStrategy *string `json:"deviceListStrategy,omitempty"`
	CDI                *CDI    `json:"cdi,omitempty"`
	MPS                *MPS    `json:"mps,omitempty"`
	// APITimeout bounds every API server and PodResources call; default 10s
	// in device-plugin mode. DRA mode has no per-call timeout (kubelet's
	// deadline bounds each prepare; the slice publisher watches), so there
	// it must be left out.
	APITimeout *metav1.Duration `json:"apiTimeout,omitempty"`
}

// CDI configures the CDI specs the agent writes.
type CDI struct {
	// SpecDir defaults to /var/run/cdi.
	SpecDir *string `json:"specDir,omitempty"`
	// ToolkitSpecDirs defaults to [/etc/cdi, /var/run/cdi].
	ToolkitSpecDirs []string `json:"toolkitSpecDirs,omitempty"`
}

// MPS configures the CUDA MPS daemon the agent runs.
type MPS struct {
	// Enabled defaults to false.
	Enabled *bool `json:"enabled,omitempty"`
	// ControlBinary defaults to nvidia-cuda-mps-control.
	ControlBinary *string `json:"controlBinary,omitempty"`
	// PipeDir, LogDir and ShmDir default to /run/gantry/mps/{pipe,log,shm}.
	PipeDir *string `json:"pipeDir,omitempty"`
	LogDir  *string `json:"logDir,omitempty"`
	ShmDir  *string `json:"shmDir,omitempty"`
	// HealthInterval defaults to 10s.
	HealthInterval *metav1.Duration `json:"healthInterval,omitempty"`
	// RestartBackoff defaults to 1s initial, 1m max.
	RestartBackoff *Backoff `json:"restartBackoff,omitempty"`
}

// Backoff bounds the wait between retries.
type Backoff struct {
	Initial *metav1.Duration `json:"initial,omitempty"`
	Max     *metav1.Duration `json:"max,omitempty"`
}
