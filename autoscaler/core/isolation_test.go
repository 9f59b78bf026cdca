package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
)

// TestScaleUpHonoursIsolation: pods that require gantry.dev/isolation: mps
// scale the group whose template declares mps, though a cheaper group of
// the same cards exists; with no group offering it, nothing is bought and
// the event says why.
func TestScaleUpHonoursIsolation(t *testing.T) {
	mps := group("t4-mps", "T4", 1, 10, 5)
	mps.Template.Device.Isolation = device.IsolationMPS
	e := newEnv(t, testConfig(group("t4", "T4", 1, 10, 1), mps), nil)
	for _, name := range []string{"a", "b"} {
		p := pending(name, 40, "T4")
		p.Annotations[contract.AnnotationIsolation] = "mps"
		e.src.AddPod(p)
	}
	e.run(t0)
	calls := e.calls("IncreaseSize")
	require.Len(t, calls, 1)
	assert.Equal(t, "t4-mps", calls[0].Group)
	assert.Equal(t, 1, calls[0].Delta, "two 40 % shares pack on one card")

	e = newEnv(t, testConfig(group("t4", "T4", 1, 10, 1)), nil)
	p := pending("c", 40, "T4")
	p.Annotations[contract.AnnotationIsolation] = "mps"
	e.src.AddPod(p)
	e.run(t0)
	assert.Empty(t, e.calls("IncreaseSize"))
	evs := e.events()
	require.Len(t, evs, 1)
	assert.Contains(t, evs[0], "with isolation mps")
}
