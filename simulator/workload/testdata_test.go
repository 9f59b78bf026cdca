package workload

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/simulator/trace"
)

// shippedDir is the trace package's test copy of the Alibaba GPU trace v2023 (research/study use).
const shippedDir = "../trace/testdata/alibaba-gpu-v2023"

func loadShipped(t testing.TB, variant string) trace.Trace {
	t.Helper()
	tr, err := trace.LoadDir(shippedDir, variant)
	require.NoError(t, err)
	return tr
}
