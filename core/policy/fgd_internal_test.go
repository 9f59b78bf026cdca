package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFGDScore(t *testing.T) {
	tests := []struct {
		name  string
		delta float64 // units; 1 unit = 10 milli
		want  int64
	}{
		{name: "no change", delta: 0, want: 50},
		// floor(100/(1+e^0.05)) = floor(48.75)
		{name: "50 milli more", delta: 5, want: 48},
		// floor(100/(1+e^-0.15)) = floor(53.74)
		{name: "150 milli less", delta: -15, want: 53},
		// e^0.01 = 1.01005: 100/2.01005 = 49.75, so 10 milli already drops a point.
		{name: "10 milli more", delta: 1, want: 49},
		// 100/(1+e^-0.01) = 50.25: the same score as no change.
		{name: "10 milli less ties no change", delta: -1, want: 50},
		// Rounding noise either side of no change: the reference's sigmoid
		// of a tiny negative argument is just below one half and truncates
		// to 49; of a tiny positive one, just above, 50.
		{name: "a hair more", delta: 1e-13, want: 49},
		{name: "a hair less", delta: -1e-13, want: 50},
		// A whole 8-GPU node: floor(100/(1+e^8)) = floor(0.0335)
		{name: "eight GPUs more", delta: 800, want: 0},
		// floor(100/(1+e^-8)) = floor(99.966)
		{name: "eight GPUs less", delta: -800, want: 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, fgdScore(1000, 1000+tt.delta*10))
		})
	}
}
