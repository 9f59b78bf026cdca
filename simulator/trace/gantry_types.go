package trace

// APIVersion and Kind identify Gantry's own trace format (FORMAT.md).
const (
	APIVersion = "gantry.dev/v1alpha1"
	Kind       = "Trace"
)

// gantryFile is the wire form of the Gantry trace format, version v1alpha1. Field names here are the
// format's contract: renaming one is a new API version.
type gantryFile struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	GPUModels  []string     `json:"gpuModels,omitempty"`
	Nodes      []gantryNode `json:"nodes"`
	Pods       []gantryPod  `json:"pods"`
}

type gantryNode struct {
	Name      string `json:"name"`
	CPUMilli  int64  `json:"cpuMilli"`
	MemoryMiB int64  `json:"memoryMiB"`
	GPUs      int    `json:"gpus"`
	Model     string `json:"model,omitempty"`
}

type gantryPod struct {
	Name          string   `json:"name"`
	CPUMilli      int64    `json:"cpuMilli"`
	MemoryMiB     int64    `json:"memoryMiB"`
	NumGPU        int      `json:"numGPU"`
	GPUMilli      int64    `json:"gpuMilli"`
	GPUSpec       []string `json:"gpuSpec,omitempty"`
	QoS           string   `json:"qos,omitempty"`
	Phase         string   `json:"phase,omitempty"`
	CreationTime  *int64   `json:"creationTime,omitempty"`
	DeletionTime  *int64   `json:"deletionTime,omitempty"`
	ScheduledTime *int64   `json:"scheduledTime,omitempty"`
}

// valueKind is what a field of the format holds; the schema check uses it to report type errors with
// their line before decoding.
type valueKind int

const (
	kindString valueKind = iota
	kindInt
	kindStringList
	kindNodeList
	kindPodList
)

var (
	rootSchema = map[string]valueKind{
		"apiVersion": kindString, "kind": kindString, fieldGPUModels: kindStringList,
		"nodes": kindNodeList, "pods": kindPodList,
	}
	nodeSchema = map[string]valueKind{
		fieldName: kindString, fieldCPUMilli: kindInt, fieldMemoryMiB: kindInt, fieldGPUs: kindInt, fieldModel: kindString,
	}
	podSchema = map[string]valueKind{
		fieldName: kindString, fieldCPUMilli: kindInt, fieldMemoryMiB: kindInt, fieldNumGPU: kindInt,
		fieldGPUMilli: kindInt, fieldGPUSpec: kindStringList, fieldQoS: kindString, fieldPhase: kindString,
		fieldCreation: kindInt, fieldDeletion: kindInt, fieldScheduled: kindInt,
	}
)
