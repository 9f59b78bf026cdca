package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/simulator/bound"
	"github.com/gantry-dev/gantry/simulator/engine"
)

func results() []*engine.InflationResult {
	mk := func(p string, seed int64, alloc int64) *engine.InflationResult {
		r := &engine.InflationResult{Policy: engineType(p), Seed: seed, Ratio: 1.3, CapacityMilli: 1000, AllocatedMilli: alloc,
			GPUs: 4, GPUsUsed: 3, Submitted: 3, Failed: 1, Wall: 1500 * time.Millisecond,
			Bound:      bound.Result{Milli: 981, CapacityMilli: 1000},
			Placements: []engine.Placement{{Pod: "a", Node: "n1", Devices: []int{0, 2}, Model: "T4", Time: 0}, {Pod: "b", Time: 1}}}
		r.Samples = []engine.Sample{{ArrivedMilli: 1290, AllocatedMilli: alloc - 10}, {ArrivedMilli: 1300, AllocatedMilli: alloc}}
		r.Curve = engine.BinCurve(r.Samples, r.CapacityMilli)
		return r
	}
	return []*engine.InflationResult{mk("FGD", 2, 950), mk("BestFit", 1, 900), mk("FGD", 1, 940)}
}

func TestRowsAndTables(t *testing.T) {
	rows := Rows(results(), Options{OmitTiming: true})
	require.Len(t, rows, 3)
	assert.Equal(t, []string{"BestFit", "FGD", "FGD"}, []string{rows[0].Policy, rows[1].Policy, rows[2].Policy})
	assert.Equal(t, int64(1), rows[1].Seed)
	assert.Equal(t, 94.0, rows[1].AllocationAtTarget) // bin 130: 940 / 1000
	assert.Equal(t, 6.0, rows[1].Unallocated)
	assert.Equal(t, 75.0, rows[1].GPUsUsed)
	assert.Equal(t, 98.1, rows[1].Bound)
	assert.Nil(t, rows[0].WallSeconds)

	var csv, md bytes.Buffer
	require.NoError(t, WriteSummaryCSV(&csv, rows))
	assert.Contains(t, csv.String(), "FGD,1,94.00,94.00,6.00,98.10,75.00,3,1,\n")
	require.NoError(t, WriteSummaryMarkdown(&md, rows))
	assert.Contains(t, md.String(), "| FGD | 2 | 95.00 % | 5.00 % | 98.10 % |")

	var pl bytes.Buffer
	require.NoError(t, WritePlacementsCSV(&pl, results()[0].Placements))
	assert.Equal(t, "pod,node,devices,model,time\na,n1,0;2,T4,0\nb,,,,1\n", pl.String())

	timed := Rows(results(), Options{})
	require.NotNil(t, timed[0].WallSeconds)
	assert.Equal(t, 1.5, *timed[0].WallSeconds)
}

func TestWriteInflationWritesEveryFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, WriteInflation(dir, Meta{Command: "gantry-sim run", Trace: "test", Nodes: 1, GPUs: 4, Pods: 3, Ratio: 1.3}, results(), Options{}))
	for _, f := range []string{"report.md", "summary.md", "summary.csv", "summary.json", "curves.csv", "unallocated.png", "placements-FGD-seed1.csv", "placements-FGD-seed2.csv", "placements-BestFit-seed1.csv"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		assert.Positive(t, st.Size(), f)
	}
}

func TestLearnedWorkloadRowsAndFiles(t *testing.T) {
	rs := results()
	learned := *rs[2] // FGD seed 1 at 94 %
	learned.LearnedWorkload = true
	learned.AllocatedMilli = 920
	learned.Samples = []engine.Sample{{ArrivedMilli: 1290, AllocatedMilli: 910}, {ArrivedMilli: 1300, AllocatedMilli: 920}}
	learned.Curve = engine.BinCurve(learned.Samples, learned.CapacityMilli)
	rs = append(rs, &learned)

	got := LearnedRows(rs)
	require.Equal(t, []LearnedRow{{Policy: "FGD", Seed: 1, Trace: 94, Learned: 92}}, got)
	labels := map[string]bool{}
	for _, r := range Rows(rs, Options{OmitTiming: true}) {
		labels[r.Policy] = true
	}
	assert.True(t, labels["FGD (learned workload)"], "labels: %v", labels)

	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, WriteInflation(dir, Meta{Trace: "test", Ratio: 1.3}, rs, Options{OmitTiming: true}))
	_, err := os.Stat(filepath.Join(dir, "placements-FGD-learned-seed1.csv"))
	require.NoError(t, err, "the learned run's placements get their own file")
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| FGD | 1 | 94.00 % | 92.00 % | -2.00 pp |")
}
