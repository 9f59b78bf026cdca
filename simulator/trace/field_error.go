package trace

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Field names, as spelled by the Gantry trace format (FORMAT.md). The CSV readers map them to their
// column names (csvPodColumns, csvNodeColumns).
const (
	fieldName      = "name"
	fieldCPUMilli  = "cpuMilli"
	fieldMemoryMiB = "memoryMiB"
	fieldGPUs      = "gpus"
	fieldModel     = "model"
	fieldNumGPU    = "numGPU"
	fieldGPUMilli  = "gpuMilli"
	fieldGPUSpec   = "gpuSpec"
	fieldQoS       = "qos"
	fieldPhase     = "phase"
	fieldCreation  = "creationTime"
	fieldDeletion  = "deletionTime"
	fieldScheduled = "scheduledTime"
	fieldGPUModels = "gpuModels"
)

// FieldError is one invalid field of a Node, a Pod or a Trace.
type FieldError struct {
	// Field is the field's path in the Gantry format: "gpuMilli" for a Pod, "pods[3].gpuMilli" for a Trace.
	Field string
	// Value is the offending value as text ("" when absent).
	Value string
	// Reason says what is wrong, e.g. "must not be negative, got -5".
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, value, reason string) *FieldError {
	return &FieldError{Field: field, Value: value, Reason: reason}
}

// FieldErrors is every invalid field found by a Validate method, in field order.
type FieldErrors []*FieldError

func (l FieldErrors) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap exposes the elements to errors.Is and errors.As.
func (l FieldErrors) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// orNil returns nil for an empty list, so that callers never see a non-nil error holding nothing.
func (l FieldErrors) orNil() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// prefixed returns copies of l's errors with prefix+"." before each field.
func (l FieldErrors) prefixed(prefix string) FieldErrors {
	out := make(FieldErrors, len(l))
	for i, e := range l {
		c := *e
		c.Field = prefix + "." + e.Field
		out[i] = &c
	}
	return out
}

// appendCount checks a device count: 0..math.MaxInt32, the range the CSV readers accept.
func appendCount(errs FieldErrors, field string, v int) FieldErrors {
	if v > math.MaxInt32 {
		return append(errs, fieldErr(field, strconv.Itoa(v), fmt.Sprintf("%d is out of range 0..%d", v, math.MaxInt32)))
	}
	return appendNonNegative(errs, field, int64(v))
}

func appendNonNegative(errs FieldErrors, field string, v int64) FieldErrors {
	if v >= 0 {
		return errs
	}
	return append(errs, fieldErr(field, strconv.FormatInt(v, 10), fmt.Sprintf("must not be negative, got %d", v)))
}
