package config

import "time"

// DeviceListStrategy is how Allocate hands devices to a container.
type DeviceListStrategy string

const (
	// StrategyCDI names CDI devices (the device-plugin API's CDIDevices);
	// the runtime injects exactly those, whatever the pod's environment.
	StrategyCDI DeviceListStrategy = "cdi"
	// StrategyEnvVar lists devices in NVIDIA_VISIBLE_DEVICES (and the NPU
	// runtimes' variables). Not tamper-proof: a pod that sets the variable
	// itself gets what it names unless the NVIDIA toolkit is configured
	// with accept-nvidia-visible-devices-envvar-when-unprivileged = false.
	StrategyEnvVar DeviceListStrategy = "envvar"
)

// Strategies lists the valid strategies.
var Strategies = []DeviceListStrategy{StrategyCDI, StrategyEnvVar}

// Mode is how the agent hands the node's cards to kubelet. An agent process
// runs one mode, so a card is never offered both ways.
type Mode string

const (
	// ModeDevicePlugin serves kubelet's device-plugin API (extended
	// resources gantry.dev/*) and records on each pod what kubelet gave it.
	ModeDevicePlugin Mode = "device-plugin"
	// ModeDRA runs the DRA driver gpu.gantry.dev: the node's cards are
	// published as a ResourceSlice and claims are prepared as CDI devices.
	ModeDRA Mode = "dra"
)

// Modes lists the valid modes.
var Modes = []Mode{ModeDevicePlugin, ModeDRA}

// DevicePluginConfiguration configures gantry-device-plugin.
type DevicePluginConfiguration struct {
	Mode               Mode
	DeviceListStrategy DeviceListStrategy
	CDI                CDI
	MPS                MPS
	// APITimeout bounds every call to the API server and to kubelet's
	// PodResources API in device-plugin mode. It is zero in DRA mode, where
	// kubelet's deadline bounds each prepare call and the slice publisher
	// keeps its watch open.
	APITimeout time.Duration
}

// CDI configures the CDI specs the agent writes.
type CDI struct {
	// SpecDir is where Gantry's specs are written.
	SpecDir string
	// ToolkitSpecDirs are searched for the NVIDIA Container Toolkit's spec.
	ToolkitSpecDirs []string
}

// MPS configures the CUDA MPS daemon the agent runs.
type MPS struct {
	// Enabled runs the daemon and isolates every shared (non-MIG) GPU with it.
	Enabled bool
	// ControlBinary is nvidia-cuda-mps-control (a name looked up in PATH,
	// or a path).
	ControlBinary string
	// PipeDir, LogDir and ShmDir are the daemon's own directories.
	PipeDir string
	LogDir  string
	ShmDir  string
	// HealthInterval is how often the daemon is probed.
	HealthInterval time.Duration
	// RestartBackoff bounds the wait between restarts of a failed daemon.
	RestartBackoffInitial time.Duration
	RestartBackoffMax     time.Duration
}
