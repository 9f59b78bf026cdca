package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-dev/gantry/simulator/engine"
)

// Meta describes a run for the report's header.
type Meta struct {
	// Command is the command line that produced the report.
	Command string
	// Trace names the input (e.g. "alibaba-gpu-v2023 openb, variant default").
	Trace string
	Nodes int
	GPUs  int
	Pods  int
	Ratio float64
	// Variant is the openb pod list variant (e.g. "multigpu20") when the
	// input is one of the reference's published traces on its GPU node
	// list, so that the report can set the results against the published
	// ones; "" otherwise.
	Variant string
	// Normalized lists what the trace reader repaired in the input, one
	// "N rows: what" line per kind (trace.Normalizations.Lines); none when
	// it was read as it stands.
	Normalized []string
}

// inputRepairs writes the reader's repairs of the input, if any.
func inputRepairs(b *strings.Builder, meta Meta) {
	if len(meta.Normalized) == 0 {
		return
	}
	b.WriteString("Input repaired by the reader (harmless irregularities the FGD reference reads the same way; see simulator/trace/FORMAT.md):\n\n")
	for _, l := range meta.Normalized {
		fmt.Fprintf(b, "- %s\n", l)
	}
	b.WriteString("\n")
}

// Reference is the reference simulator's result for one policy on the
// openb default trace, seed 42 (fgd-anchor §6, measured on a 2-core
// machine of this project's kind).
type Reference struct {
	Policy        string
	Allocation    float64
	WallSeconds   float64
	Failed        int
	GPUsUsedShare float64
}

// References are fgd-anchor §6's numbers.
var References = []Reference{
	{Policy: "FGD", Allocation: 95.3, WallSeconds: 2186, Failed: 2532, GPUsUsedShare: 99.6},
	{Policy: "BestFit", Allocation: 93.1, WallSeconds: 2070, Failed: 2676, GPUsUsedShare: 98.4},
	{Policy: "GPUPacking", Allocation: 91.6, WallSeconds: 1987, Failed: 2794, GPUsUsedShare: 96.1},
}

// WriteInflation writes an inflation experiment's report into dir:
// summary.{md,csv,json}, curves.csv, one placements CSV per run,
// unallocated.png and report.md.
func WriteInflation(dir string, meta Meta, results []*engine.InflationResult, o Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rows := Rows(results, o)
	files := []struct {
		name string
		fn   func(io.Writer) error
	}{
		{"summary.csv", func(w io.Writer) error { return WriteSummaryCSV(w, rows) }},
		{"summary.json", func(w io.Writer) error { return WriteSummaryJSON(w, rows) }},
		{"summary.md", func(w io.Writer) error { return WriteSummaryMarkdown(w, rows) }},
		{"curves.csv", func(w io.Writer) error { return WriteCurvesCSV(w, results) }},
	}
	for _, r := range sorted(results) {
		r := r
		files = append(files, struct {
			name string
			fn   func(io.Writer) error
		}{PlacementsFile(fileLabel(r), r.Seed), func(w io.Writer) error { return WritePlacementsCSV(w, r.Placements) }})
	}
	for _, f := range files {
		if err := writeFile(dir, f.name, f.fn); err != nil {
			return err
		}
	}
	if err := PlotUnallocated(filepath.Join(dir, "unallocated.png"), results, 80); err != nil {
		return fmt.Errorf("plotting: %w", err)
	}
	return writeFile(dir, "report.md", func(w io.Writer) error { return writeInflationMarkdown(w, meta, rows, results) })
}

func writeInflationMarkdown(w io.Writer, meta Meta, rows []Row, results []*engine.InflationResult) error {
	var b strings.Builder
	b.WriteString("# Gantry simulator: workload inflation\n\n")
	fmt.Fprintf(&b, "Trace: %s, %d nodes, %d GPUs, %d pods; inflated to %.0f %% of GPU capacity (FGD paper protocol, fgd-anchor §5). %s\n\n", meta.Trace, meta.Nodes, meta.GPUs, meta.Pods, meta.Ratio*100, modesLine(results))
	inputRepairs(&b, meta)
	if meta.Command != "" {
		fmt.Fprintf(&b, "Command:\n\n```\n%s\n```\n\n", meta.Command)
	}
	b.WriteString("## Summary\n\n")
	if err := WriteSummaryMarkdown(&b, rows); err != nil {
		return err
	}
	b.WriteString("\nAllocation at 130 % is the paper's Fig. 9a point: arrived demand binned to integer percent (half to even), mean milli-GPU allocation over the bin. Final allocation is the allocation after the last pod. The upper bound is the most milli-GPU any placement policy could have allocated at that point on the same pods: a linear relaxation of packing them onto the nodes (CPU, memory, GPU, cards and node-level cuts), certified by its dual (simulator/bound); the gap between a policy and the bound is the headroom a better policy could at most win, not a target every policy can reach.\n\n")
	for _, r := range sorted(results) {
		if r.Bound.Note != "" {
			fmt.Fprintf(&b, "Upper bound, %s seed %d: %s.\n\n", PolicyLabel(r), r.Seed, r.Bound.Note)
		}
	}
	writePublished(&b, meta, rows)
	writeModes(&b, results)
	if lr := LearnedRows(results); len(lr) > 0 {
		b.WriteString("## Trace workload vs learned estimate\n\nThe same runs with the scheduler plugin measuring fragmentation against the trace's workload (the paper's protocol) and against the estimate it learns from the pods it is asked to place (a live scheduler without a configured workload: aged, at most 25 % per namespace).\n\n| policy | seed | trace workload | learned estimate | difference |\n| --- | --- | --- | --- | --- |\n")
		for _, r := range lr {
			fmt.Fprintf(&b, "| %s | %d | %s %% | %s %% | %+.2f pp |\n", r.Policy, r.Seed, f2(r.Trace), f2(r.Learned), r.Learned-r.Trace)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Reference simulator measured here (fgd-anchor §6: openb default trace, seed 42, 2-core machine)\n\n")
	b.WriteString("| policy | milli-GPU allocated at end | GPUs with any allocation | tasks failed | wall time |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range References {
		fmt.Fprintf(&b, "| %s | %.1f %% | %.1f %% | %d | %.0f s |\n", r.Policy, r.Allocation, r.GPUsUsedShare, r.Failed, r.WallSeconds)
	}
	b.WriteString("\n## Unallocated GPU vs arrived demand\n\n![unallocated GPU share vs arrived demand](unallocated.png)\n\n")
	b.WriteString("## Files\n\n- `summary.md`, `summary.csv`, `summary.json`: the table above\n- `curves.csv`: binned allocation, unallocated share and fragmentation ratio per run\n- `placements-<policy>-seed<seed>.csv`: where every pod went (pod, node, device indices, model, submission index)\n- `unallocated.png`: the plot\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// ReplayRow is one replay run in the summary.
type ReplayRow struct {
	Policy             string   `json:"policy"`
	Seed               int64    `json:"seed"`
	Pods               int      `json:"pods"`
	Bound              int      `json:"bound"`
	NeverBound         int      `json:"neverBound"`
	Waited             int      `json:"waited"`
	PendingMeanSeconds float64  `json:"pendingMeanSeconds"`
	PendingP50Seconds  int64    `json:"pendingP50Seconds"`
	PendingP95Seconds  int64    `json:"pendingP95Seconds"`
	PendingMaxSeconds  int64    `json:"pendingMaxSeconds"`
	PeakAllocation     float64  `json:"peakAllocationPercent"`
	WallSeconds        *float64 `json:"wallSeconds,omitempty"`
}

// WriteReplay writes a replay experiment's report into dir.
func WriteReplay(dir string, meta Meta, results []*engine.ReplayResult, o Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var rows []ReplayRow
	for _, r := range results {
		row := ReplayRow{Policy: replayLabel(r), Seed: r.Seed, Pods: r.Pods, Bound: r.Bound, NeverBound: r.NeverBound,
			Waited: r.Pending.Waited, PendingMeanSeconds: round2(r.Pending.Mean), PendingP50Seconds: r.Pending.P50,
			PendingP95Seconds: r.Pending.P95, PendingMaxSeconds: r.Pending.Max,
			PeakAllocation: round2(pctOf(r.PeakAllocatedMilli, r.CapacityMilli))}
		if !o.OmitTiming {
			w := round2(r.Wall.Seconds())
			row.WallSeconds = &w
		}
		rows = append(rows, row)
		if err := writeFile(dir, PlacementsFile(replayFileLabel(r), r.Seed), func(w io.Writer) error { return WritePlacementsCSV(w, r.Placements) }); err != nil {
			return err
		}
	}
	if err := writeFile(dir, "summary.json", func(w io.Writer) error { return writeJSON(w, rows) }); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# Gantry simulator: trace replay\n\n")
	fmt.Fprintf(&b, "Trace: %s, %d nodes, %d GPUs, %d pods; arrivals and departures from creation_time/deletion_time in virtual time, pods that fit nowhere wait and are retried whenever a pod departs.\n\n", meta.Trace, meta.Nodes, meta.GPUs, meta.Pods)
	inputRepairs(&b, meta)
	if meta.Command != "" {
		fmt.Fprintf(&b, "Command:\n\n```\n%s\n```\n\n", meta.Command)
	}
	b.WriteString("| policy | seed | pods | bound | never bound | waited | mean pending | p50 | p95 | max | peak milli-GPU allocation | wall time |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		wall := "-"
		if r.WallSeconds != nil {
			wall = f2(*r.WallSeconds) + " s"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s s | %d s | %d s | %d s | %s %% | %s |\n", r.Policy, r.Seed, r.Pods, r.Bound, r.NeverBound, r.Waited,
			f2(r.PendingMeanSeconds), r.PendingP50Seconds, r.PendingP95Seconds, r.PendingMaxSeconds, f2(r.PeakAllocation), wall)
	}
	return writeFile(dir, "report.md", func(w io.Writer) error { _, err := io.WriteString(w, b.String()); return err })
}

// WriteSharing writes a sharing-gain experiment's report into dir.
func WriteSharing(dir string, meta Meta, results []*engine.SharingResult, o Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	type row struct {
		Policy      string   `json:"policy"`
		Seed        int64    `json:"seed"`
		Pods        int      `json:"pods"`
		SharedNodes int      `json:"sharedNodes"`
		SharedGPUs  int      `json:"sharedGPUs"`
		WholeNodes  int      `json:"wholeNodes"`
		WholeGPUs   int      `json:"wholeGPUs"`
		Ratio       float64  `json:"ratio"`
		Probes      int      `json:"probes"`
		WallSeconds *float64 `json:"wallSeconds,omitempty"`
	}
	var rows []row
	for _, r := range results {
		x := row{Policy: string(r.Policy), Seed: r.Seed, Pods: r.Pods, SharedNodes: r.SharedNodes, SharedGPUs: r.SharedGPUs,
			WholeNodes: r.WholeNodes, WholeGPUs: r.WholeGPUs, Ratio: round2(r.Ratio), Probes: r.Probes}
		if !o.OmitTiming {
			w := round2(r.Wall.Seconds())
			x.WallSeconds = &w
		}
		rows = append(rows, x)
	}
	if err := writeFile(dir, "summary.json", func(w io.Writer) error { return writeJSON(w, rows) }); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# Gantry simulator: sharing gain\n\n")
	fmt.Fprintf(&b, "Trace: %s, %d pods. The fewest GPUs (a prefix of the trace's nodes in a seeded order, repeated as copies when needed; binary search) on which every pod binds, submitted once each with no departures: as the pods ask, and with every sharing pod rounded up to one whole GPU.\n\n", meta.Trace, meta.Pods)
	inputRepairs(&b, meta)
	if meta.Command != "" {
		fmt.Fprintf(&b, "Command:\n\n```\n%s\n```\n\n", meta.Command)
	}
	b.WriteString("| policy | seed | pods | GPUs with sharing (nodes) | GPUs with whole-GPU rounding (nodes) | ratio | probes | wall time |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		wall := "-"
		if r.WallSeconds != nil {
			wall = f2(*r.WallSeconds) + " s"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d (%d) | %d (%d) | %s | %d | %s |\n", r.Policy, r.Seed, r.Pods, r.SharedGPUs, r.SharedNodes, r.WholeGPUs, r.WholeNodes, f2(r.Ratio), r.Probes, wall)
	}
	return writeFile(dir, "report.md", func(w io.Writer) error { _, err := io.WriteString(w, b.String()); return err })
}

func pctOf(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b) * 100
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// replayLabel names a replay's policy as PolicyLabel does.
func replayLabel(r *engine.ReplayResult) string {
	return label(r.Policy, r.LearnedWorkload, r.Mode)
}

func replayFileLabel(r *engine.ReplayResult) string {
	return fileName(r.Policy, r.LearnedWorkload, r.Mode)
}
