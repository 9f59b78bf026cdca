package trace

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// MaxMemoryMiB is the largest memory in MiB whose size in bytes fits an int64.
const MaxMemoryMiB = math.MaxInt64 >> 20

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
	errs = appendMemoryMiB(errs, n.MemoryMiB)
	switch {
	case n.GPUs < 0:
		errs = appendCount(errs, fieldGPUs, n.GPUs)
	case n.GPUs > share.MaxDevices:
		errs = appendTooManyGPUs(errs, fieldGPUs, n.GPUs)
	case n.GPUs > 0 && n.Model == "":
		errs = append(errs, fieldErr(fieldModel, "", "must name the GPU model of a node with "+strconv.Itoa(n.GPUs)+" GPUs"))
	case n.GPUs > 0 && !device.ValidModel(n.Model):
		errs = append(errs, fieldErr(fieldModel, n.Model, invalidModel(n.Model)))
	case n.GPUs == 0 && n.Model != "":
		errs = append(errs, fieldErr(fieldModel, n.Model, strconv.Quote(n.Model)+" given for a node without GPUs"))
	}
	return errs
}

// appendMemoryMiB checks a memory size: not negative, and small enough that
// its size in bytes (MiB << 20) fits an int64.
func appendMemoryMiB(errs FieldErrors, v int64) FieldErrors {
	if v > MaxMemoryMiB {
		return append(errs, fieldErr(fieldMemoryMiB, strconv.FormatInt(v, 10), fmt.Sprintf("%d is out of range 0..%d (its size in bytes must fit an int64)", v, int64(MaxMemoryMiB))))
	}
	return appendNonNegative(errs, fieldMemoryMiB, v)
}

// appendTooManyGPUs reports a GPU count above what one node or container may
// hold (share.MaxDevices).
func appendTooManyGPUs(errs FieldErrors, field string, v int) FieldErrors {
	return append(errs, fieldErr(field, strconv.Itoa(v), fmt.Sprintf("%d is out of range 0..%d", v, share.MaxDevices)))
}

// invalidModel is the message for a GPU model name device.ValidModel rejects.
func invalidModel(m string) string {
	return fmt.Sprintf("%q is not a valid GPU model (1..63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit)", m)
}
