package trace

import (
	"math"
	"strconv"
)

// Node is one machine of a trace's cluster.
type Node struct {
	// Name is unique within a trace (the Alibaba "sn" column, e.g. openb-node-0001).
	Name string
	// CPUMilli is the allocatable CPU in thousandths of a core.
	CPUMilli int64
	// MemoryMiB is the allocatable main memory in MiB.
	MemoryMiB int64
	// GPUs is the number of GPU devices; 0 for a CPU-only node.
	GPUs int
	// Model is the GPU model (e.g. V100M16, T4, G2); required when GPUs > 0, empty otherwise.
	Model string
}

// GPUMilli is the node's GPU capacity in thousandths of a GPU (1000 per device, whatever the model).
func (n Node) GPUMilli() int64 { return int64(n.GPUs) * MilliPerGPU }

// Validate reports every invalid field of n as FieldErrors (nil when n is valid).
func (n Node) Validate() error { return n.check().orNil() }

func (n Node) check() FieldErrors {
	var errs FieldErrors
	if n.Name == "" {
		errs = append(errs, fieldErr(fieldName, "", "must not be empty"))
	}
	errs = appendNonNegative(errs, fieldCPUMilli, n.CPUMilli)
	errs = appendNonNegative(errs, fieldMemoryMiB, n.MemoryMiB)
	switch {
	case n.GPUs < 0 || n.GPUs > math.MaxInt32:
		errs = appendCount(errs, fieldGPUs, n.GPUs)
	case n.GPUs > 0 && n.Model == "":
		errs = append(errs, fieldErr(fieldModel, "", "must name the GPU model of a node with "+strconv.Itoa(n.GPUs)+" GPUs"))
	case n.GPUs == 0 && n.Model != "":
		errs = append(errs, fieldErr(fieldModel, n.Model, strconv.Quote(n.Model)+" given for a node without GPUs"))
	}
	return errs
}
