package device

import "fmt"

// Isolation is what keeps the shares of one device from each other, as the
// node enforces it. Levels are ordered: each protects against more than the
// one before it.
type Isolation string

const (
	// IsolationNone is accounting only: shares are counted, not enforced.
	// It is what a device that publishes no level has.
	IsolationNone Isolation = "none"
	// IsolationMPS: the node agent runs CUDA MPS for the device and each
	// share's client is capped at its thread percentage and device memory.
	IsolationMPS Isolation = "mps"
	// IsolationMIG: the device is a MIG instance, isolated from the other
	// instances of its GPU by the hardware.
	IsolationMIG Isolation = "mig"
)

// Isolations lists every level, weakest first.
var Isolations = []Isolation{IsolationNone, IsolationMPS, IsolationMIG}

// ParseIsolation returns the level s names; "" is IsolationNone.
func ParseIsolation(s string) (Isolation, error) {
	switch Isolation(s) {
	case "", IsolationNone:
		return IsolationNone, nil
	case IsolationMPS, IsolationMIG:
		return Isolation(s), nil
	}
	return "", fmt.Errorf("unknown isolation %q (want %q, %q or %q)", s, IsolationNone, IsolationMPS, IsolationMIG)
}

// Level returns the device's isolation; a device that publishes none has
// IsolationNone.
func (d Device) Level() Isolation {
	if d.Isolation == "" {
		return IsolationNone
	}
	return d.Isolation
}

// Satisfies reports whether a device at level i meets a requirement of
// level want. MIG does not satisfy MPS (and the reverse): the two protect
// against different failures, so a pod that names one gets that one.
func (i Isolation) Satisfies(want Isolation) bool {
	if want == "" || want == IsolationNone {
		return true
	}
	if i == "" {
		i = IsolationNone
	}
	return i == want
}
