// Package report writes the simulator's results: summary tables (Markdown,
// CSV, JSON), per-pod placements and allocation curves as CSV, and a plot of
// unallocated GPU share against arrived demand like Fig. 9a of the FGD paper.
//
// Every writer is deterministic: the same results give the same bytes. Wall
// times are the one measured quantity; Options.OmitTiming leaves them out.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/engine"
)

// Row is one inflation run in the summary.
type Row struct {
	Policy string `json:"policy"`
	Seed   int64  `json:"seed"`
	// AllocationAtTarget is the binned milli-GPU allocation (percent) at the
	// inflation target (130 %), the FGD paper's headline.
	AllocationAtTarget float64 `json:"allocationAtTargetPercent"`
	// FinalAllocation is the milli-GPU allocated at the end (percent).
	FinalAllocation float64 `json:"finalAllocationPercent"`
	// Unallocated is 100 - AllocationAtTarget.
	Unallocated float64 `json:"unallocatedPercent"`
	// Bound is the most any placement policy could allocate at the target
	// on the same pods (percent, rounded up; simulator/bound).
	Bound float64 `json:"boundPercent"`
	// GPUsUsed is the share of GPUs with any allocation at the end.
	GPUsUsed    float64  `json:"gpusWithAllocationPercent"`
	Submitted   int      `json:"submitted"`
	Failed      int      `json:"failed"`
	WallSeconds *float64 `json:"wallSeconds,omitempty"`
}

// Options control the writers.
type Options struct {
	// OmitTiming leaves wall times out, so outputs are byte-identical
	// across runs.
	OmitTiming bool
}

// Rows summarises inflation results, sorted by policy then seed.
func Rows(results []*engine.InflationResult, o Options) []Row {
	rows := make([]Row, 0, len(results))
	for _, r := range results {
		row := Row{
			Policy: PolicyLabel(r), Seed: r.Seed,
			AllocationAtTarget: r.Headline(),
			FinalAllocation:    round2(r.FinalAllocatedPercent()),
			Bound:              r.Bound.Percent(),
			GPUsUsed:           round2(r.GPUsUsedPercent()),
			Submitted:          r.Submitted, Failed: r.Failed,
		}
		row.Unallocated = round2(100 - row.AllocationAtTarget)
		if !o.OmitTiming {
			w := round2(r.Wall.Seconds())
			row.WallSeconds = &w
		}
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Policy != rows[j].Policy {
			return rows[i].Policy < rows[j].Policy
		}
		return rows[i].Seed < rows[j].Seed
	})
	return rows
}

// PolicyLabel names a run's policy, and says when it measured against the
// workload the plugin learned rather than the trace's, and which mode other
// than device-plugin placed the pods.
func PolicyLabel(r *engine.InflationResult) string {
	return label(r.Policy, r.LearnedWorkload, r.Mode)
}

// fileLabel is PolicyLabel as a file name part.
func fileLabel(r *engine.InflationResult) string {
	return fileName(r.Policy, r.LearnedWorkload, r.Mode)
}

func label(p policy.Type, learned bool, m engine.Mode) string {
	s := string(p)
	if !m.UsesPolicy() {
		s = "none"
	}
	if learned {
		s += " (learned workload)"
	}
	if m.IsDRA() {
		s += " [" + string(m) + "]"
	}
	return s
}

func fileName(p policy.Type, learned bool, m engine.Mode) string {
	s := string(p)
	if !m.UsesPolicy() {
		s = "none"
	}
	if learned {
		s += "-learned"
	}
	if m.IsDRA() {
		s += "-" + string(m)
	}
	return s
}

// modeRank orders modes as engine.Modes lists them.
func modeRank(m engine.Mode) int {
	for i, x := range engine.Modes() {
		if x == m {
			return i
		}
	}
	return 0
}

// LearnedRow compares one policy and seed run with the trace's workload
// and with the learned estimate.
type LearnedRow struct {
	Policy string
	Seed   int64
	// Trace and Learned are the allocations at the target (percent).
	Trace, Learned float64
}

// LearnedRows pairs every run with the learned workload with its run on
// the trace's workload, sorted by policy then seed.
func LearnedRows(results []*engine.InflationResult) []LearnedRow {
	type key struct {
		p    string
		seed int64
	}
	trace := map[key]float64{}
	for _, r := range results {
		if !r.LearnedWorkload && !r.Mode.IsDRA() {
			trace[key{string(r.Policy), r.Seed}] = r.Headline()
		}
	}
	var out []LearnedRow
	for _, r := range sorted(results) {
		if v, ok := trace[key{string(r.Policy), r.Seed}]; ok && r.LearnedWorkload {
			out = append(out, LearnedRow{Policy: string(r.Policy), Seed: r.Seed, Trace: v, Learned: r.Headline()})
		}
	}
	return out
}

func round2(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 2, 64), 64)
	return f
}

func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

var summaryHeader = []string{"policy", "seed", "allocation_at_target_pct", "final_allocation_pct", "unallocated_pct", "bound_pct", "gpus_with_allocation_pct", "submitted", "failed", "wall_s"}

func (r Row) fields() []string {
	wall := ""
	if r.WallSeconds != nil {
		wall = f2(*r.WallSeconds)
	}
	return []string{r.Policy, strconv.FormatInt(r.Seed, 10), f2(r.AllocationAtTarget), f2(r.FinalAllocation), f2(r.Unallocated), f2(r.Bound), f2(r.GPUsUsed), strconv.Itoa(r.Submitted), strconv.Itoa(r.Failed), wall}
}

// WriteSummaryCSV writes the rows as CSV.
func WriteSummaryCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(summaryHeader); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write(r.fields()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteSummaryJSON writes the rows as an indented JSON array.
func WriteSummaryJSON(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// WriteSummaryMarkdown writes the rows as a Markdown table.
func WriteSummaryMarkdown(w io.Writer, rows []Row) error {
	var b strings.Builder
	b.WriteString("| policy | seed | milli-GPU allocation at 130 % arrived | unallocated | upper bound, any policy | final allocation | GPUs with any allocation | tasks submitted | tasks failed | wall time |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		wall := "-"
		if r.WallSeconds != nil {
			wall = f2(*r.WallSeconds) + " s"
		}
		fmt.Fprintf(&b, "| %s | %d | %s %% | %s %% | %s %% | %s %% | %s %% | %d | %d | %s |\n",
			r.Policy, r.Seed, f2(r.AllocationAtTarget), f2(r.Unallocated), f2(r.Bound), f2(r.FinalAllocation), f2(r.GPUsUsed), r.Submitted, r.Failed, wall)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WritePlacementsCSV writes one row per submitted pod: pod, node (empty when
// it failed), device indices joined by ';', GPU model, virtual time.
func WritePlacementsCSV(w io.Writer, ps []engine.Placement) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"pod", "node", "devices", "model", "time"}); err != nil {
		return err
	}
	for _, p := range ps {
		devs := make([]string, len(p.Devices))
		for i, d := range p.Devices {
			devs[i] = strconv.Itoa(d)
		}
		if err := cw.Write([]string{p.Pod, p.Node, strings.Join(devs, ";"), p.Model, strconv.FormatInt(p.Time, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteCurvesCSV writes every run's binned curve, one row per bin.
func WriteCurvesCSV(w io.Writer, results []*engine.InflationResult) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"policy", "seed", "arrived_pct", "allocated_pct", "unallocated_pct", "frag_ratio_pct", "samples"}); err != nil {
		return err
	}
	for _, r := range sorted(results) {
		for _, p := range r.Curve {
			if err := cw.Write([]string{PolicyLabel(r), strconv.FormatInt(r.Seed, 10), strconv.Itoa(p.X), f2(p.Allocated), f2(p.Unallocated), f2(p.FragRatio), strconv.Itoa(p.Samples)}); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func sorted(results []*engine.InflationResult) []*engine.InflationResult {
	out := append([]*engine.InflationResult(nil), results...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Policy != out[j].Policy {
			return out[i].Policy < out[j].Policy
		}
		if out[i].Mode != out[j].Mode {
			return modeRank(out[i].Mode) < modeRank(out[j].Mode)
		}
		return out[i].Seed < out[j].Seed
	})
	return out
}

// PlacementsFile is the file name of one run's placements.
func PlacementsFile(policy string, seed int64) string {
	return fmt.Sprintf("placements-%s-seed%d.csv", policy, seed)
}

// writeFile writes a file through fn, creating the folder.
func writeFile(dir, name string, fn func(io.Writer) error) error {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return f.Close()
}
