package trace

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// MilliPerGPU is one whole GPU in the trace's unit (thousandths of a GPU), whatever the GPU model.
const MilliPerGPU = 1000

// MilliPerPercent is one gantry.dev/gpu-percent unit in thousandths of a GPU. Every gpu_milli of the
// Alibaba trace is a multiple of it, so the mapping is exact; other values are rejected.
const MilliPerPercent = 10

// Pod is one task of a trace.
type Pod struct {
	// Name is unique within a trace (e.g. openb-pod-0001).
	Name string
	// CPUMilli and MemoryMiB are the requested CPU (thousandths of a core) and memory (MiB).
	CPUMilli  int64
	MemoryMiB int64
	// NumGPU is the number of GPUs requested; 0 for a CPU-only pod.
	NumGPU int
	// GPUMilli is the share of EACH requested GPU in thousandths (1..1000; 0 exactly when NumGPU is 0).
	// A pod with NumGPU > 1 always asks for whole GPUs (1000).
	GPUMilli int64
	// GPUSpec lists the GPU models the pod accepts, in input order; nil means any model.
	GPUSpec []string
	// QoS and Phase are recorded as found (e.g. LS/BE, Running/Failed); the simulator ignores them.
	QoS, Phase string
	// Creation and Deletion are seconds from the start of the trace; meaningful only when HasTimes.
	Creation, Deletion int64
	// Scheduled is when the pod was scheduled in production (seconds), nil when it never was or the
	// input has no such column.
	Scheduled *int64
	// HasTimes reports whether the input carried creation and deletion times for the pod.
	HasTimes bool
}

// GPUPercent is the pod's per-GPU share as gantry.dev/gpu-percent (GPUMilli / 10). Valid pods have a
// GPUMilli that is a multiple of 10, so nothing is rounded.
func (p Pod) GPUPercent() int { return int(p.GPUMilli / MilliPerPercent) }

// TotalGPUMilli is the pod's whole GPU demand in thousandths of a GPU (NumGPU * GPUMilli).
func (p Pod) TotalGPUMilli() int64 { return int64(p.NumGPU) * p.GPUMilli }

// IsSharing reports whether the pod asks for a fraction of one GPU (NumGPU 1, GPUMilli below 1000).
func (p Pod) IsSharing() bool { return p.NumGPU == 1 && p.GPUMilli > 0 && p.GPUMilli < MilliPerGPU }

// IsCPUOnly reports whether the pod asks for no GPU.
func (p Pod) IsCPUOnly() bool { return p.NumGPU == 0 }

// Clone returns a deep copy of p (GPUSpec and Scheduled are not shared).
func (p Pod) Clone() Pod {
	c := p
	if p.GPUSpec != nil {
		c.GPUSpec = append([]string(nil), p.GPUSpec...)
	}
	if p.Scheduled != nil {
		s := *p.Scheduled
		c.Scheduled = &s
	}
	return c
}

// Validate reports every invalid field of p as FieldErrors (nil when p is valid).
func (p Pod) Validate() error { return p.check().orNil() }

func (p Pod) check() FieldErrors {
	var errs FieldErrors
	if p.Name == "" {
		errs = append(errs, fieldErr(fieldName, "", "must not be empty"))
	}
	errs = appendNonNegative(errs, fieldCPUMilli, p.CPUMilli)
	errs = appendMemoryMiB(errs, p.MemoryMiB)
	errs = append(errs, p.checkGPU()...)
	errs = append(errs, checkGPUSpec(p.GPUSpec)...)
	if p.HasTimes {
		errs = appendNonNegative(errs, fieldCreation, p.Creation)
		errs = appendNonNegative(errs, fieldDeletion, p.Deletion)
	}
	if p.Scheduled != nil {
		errs = appendNonNegative(errs, fieldScheduled, *p.Scheduled)
	}
	return errs
}

// checkGPU checks num_gpu and gpu_milli together: range first, then consistency between the two.
func (p Pod) checkGPU() FieldErrors {
	milli := strconv.FormatInt(p.GPUMilli, 10)
	if p.NumGPU < 0 {
		return appendCount(nil, fieldNumGPU, p.NumGPU)
	}
	if p.NumGPU > share.MaxDevices {
		return appendTooManyGPUs(nil, fieldNumGPU, p.NumGPU)
	}
	switch {
	case p.GPUMilli < 0 || p.GPUMilli > MilliPerGPU:
		return FieldErrors{fieldErr(fieldGPUMilli, milli, fmt.Sprintf("%d is out of range 0..%d", p.GPUMilli, MilliPerGPU))}
	case p.GPUMilli%MilliPerPercent != 0:
		return FieldErrors{fieldErr(fieldGPUMilli, milli, fmt.Sprintf(
			"%d is not a multiple of %d (a GPU share is a whole gantry.dev/gpu-percent)", p.GPUMilli, MilliPerPercent))}
	case p.NumGPU == 0 && p.GPUMilli != 0:
		return FieldErrors{fieldErr(fieldGPUMilli, milli, fmt.Sprintf("must be 0 for a pod that asks for no GPU, got %d", p.GPUMilli))}
	case p.NumGPU > 0 && p.GPUMilli == 0:
		return FieldErrors{fieldErr(fieldGPUMilli, milli, fmt.Sprintf("must be 10..1000 for a pod that asks for %d GPU(s), got 0", p.NumGPU))}
	case p.NumGPU > 1 && p.GPUMilli != MilliPerGPU:
		return FieldErrors{fieldErr(fieldGPUMilli, milli, fmt.Sprintf(
			"must be 1000 (whole GPUs) for a pod that asks for %d GPUs, got %d", p.NumGPU, p.GPUMilli))}
	}
	return nil
}

func checkGPUSpec(spec []string) FieldErrors {
	seen := make(map[string]bool, len(spec))
	for i, m := range spec {
		switch {
		case m == "":
			return FieldErrors{fieldErr(fieldGPUSpec, strings.Join(spec, "|"), fmt.Sprintf("model %d is empty", i+1))}
		case seen[m]:
			return FieldErrors{fieldErr(fieldGPUSpec, strings.Join(spec, "|"), fmt.Sprintf("model %q is listed twice", m))}
		case !device.ValidModel(m):
			return FieldErrors{fieldErr(fieldGPUSpec, strings.Join(spec, "|"), fmt.Sprintf("model %d: %s", i+1, invalidModel(m)))}
		}
		seen[m] = true
	}
	return nil
}
