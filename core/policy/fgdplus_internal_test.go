package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBucketedScore(t *testing.T) {
	tests := []struct {
		name   string
		delta  float64 // units
		levels int
		want   int64
	}{
		{"no change is the middle", 0, 50, 50},
		{"100 levels is FGD's score", 0, 100, fgdScore(0)},
		{"-40 milli stays in FGD's middle bucket at 50 levels", -4, 50, 50},
		{"+40 milli drops one bucket", 4, 50, 48},
		{"large decrease tops out below 100", -1000, 50, 98},
		{"large increase bottoms out", 1000, 50, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, bucketedScore(tc.delta, tc.levels))
		})
	}
	// Every FGD level maps onto a FGDPlus level no finer than it.
	for d := -2000.0; d <= 2000; d += 0.5 {
		a, b := bucketedScore(d, 50), bucketedScore(d+0.5, 50)
		assert.GreaterOrEqual(t, a, b, "bucketed score must not increase with Δ (Δ=%v)", d)
	}
}

func TestFGDPlusNeedsWorkload(t *testing.T) {
	_, err := New(FGDPlus, Options{})
	assert.ErrorContains(t, err, "FGDPlus needs a workload distribution")
	s, err := New(FGDPlus, Options{Workload: Workload{{Count: 1, Units: 50, Weight: 1}}})
	assert.NoError(t, err)
	assert.Equal(t, Clamp, s.Normalization())
}
