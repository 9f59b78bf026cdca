package policy

import (
	"fmt"
	"math"
	"strings"

	"github.com/gantry-dev/gantry/core/device"
)

// Shape is one kind of request in a workload: Count devices of Kind with
// Units each (Count 0 for a request of no device), CPUMilli of host CPU,
// restricted to Models when set.
type Shape struct {
	Kind     device.Kind `json:"kind,omitempty"`
	CPUMilli int64       `json:"cpuMilli"`
	Count    int         `json:"count"`
	Units    int         `json:"units"`
	Models   []string    `json:"models,omitempty"`
	// Weight is the shape's share of the workload; weights sum to 1.
	Weight float64 `json:"weight"`
}

// Key identifies shapes that are the same request.
func (s Shape) Key() string {
	return fmt.Sprintf("%s/%d/%dx%d/%s", s.kind(), s.CPUMilli, s.Count, s.Units, strings.Join(s.Models, "|"))
}

func (s Shape) kind() device.Kind {
	if s.Kind == "" {
		return device.GPU
	}
	return s.Kind
}

func (s Shape) allows(model string) bool {
	if len(s.Models) == 0 {
		return true
	}
	for _, m := range s.Models {
		if m == model {
			return true
		}
	}
	return false
}

// Workload is the distribution of request shapes a cluster serves.
type Workload []Shape

// Validate checks each shape and that the weights are positive.
func (w Workload) Validate() error {
	if len(w) == 0 {
		return fmt.Errorf("workload has no shapes")
	}
	for i, s := range w {
		switch {
		case s.Kind != "" && !s.Kind.Valid():
			return fmt.Errorf("shapes[%d]: unknown kind %q", i, s.Kind)
		case s.Count < 0:
			return fmt.Errorf("shapes[%d]: negative count %d", i, s.Count)
		case s.Count > 0 && (s.Units < 1 || s.Units > device.UnitsPerDevice):
			return fmt.Errorf("shapes[%d]: units %d outside 1..%d", i, s.Units, device.UnitsPerDevice)
		case s.Count > 1 && s.Units != device.UnitsPerDevice:
			return fmt.Errorf("shapes[%d]: %d devices of %d%% each; several devices must be whole", i, s.Count, s.Units)
		case s.CPUMilli < 0:
			return fmt.Errorf("shapes[%d]: negative cpuMilli %d", i, s.CPUMilli)
		case !(s.Weight > 0) || math.IsInf(s.Weight, 1):
			return fmt.Errorf("shapes[%d]: weight %v must be positive and finite", i, s.Weight)
		}
		for _, m := range s.Models {
			if !device.ValidModel(m) {
				return fmt.Errorf("shapes[%d]: model %q is not a valid model name", i, m)
			}
		}
	}
	return nil
}

// normalized reports whether w's weights already sum to 1 (to within
// floating-point error), so that they can be used as given, bit for bit.
func (w Workload) normalized() bool {
	var sum float64
	for _, s := range w {
		sum += s.Weight
	}
	return math.Abs(sum-1) < 1e-9
}

// Normalized returns w with weights scaled to sum to 1.
func (w Workload) Normalized() Workload {
	var sum float64
	for _, s := range w {
		sum += s.Weight
	}
	out := make(Workload, len(w))
	copy(out, w)
	if sum > 0 {
		for i := range out {
			out[i].Weight /= sum
		}
	}
	return out
}
