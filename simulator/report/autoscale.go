package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/simulator/engine"
)

// AutoscaleRun is one policy x seed of a replay with the autoscaler, next
// to the same replay without it (Baseline, on BaselineNodes nodes).
type AutoscaleRun struct {
	Autoscaled *engine.ReplayResult
	Baseline   *engine.ReplayResult
}

// AutoscaleMeta describes the autoscaled side for the report's header.
type AutoscaleMeta struct {
	ConfigFile  string
	BootDelay   string
	StaticNodes int
	// Groups lists each group as "name: model xN, $P/h, min-max".
	Groups []string
}

// AutoscaleRow is one run's summary.
type AutoscaleRow struct {
	Policy    string         `json:"policy"`
	Seed      int64          `json:"seed"`
	Loops     int            `json:"autoscalerLoops"`
	Added     int            `json:"nodesAdded"`
	Removed   int            `json:"nodesRemoved"`
	NodeHours float64        `json:"nodeHours"`
	Cost      float64        `json:"cost"`
	With      ReplayRow      `json:"withAutoscaler"`
	Without   ReplayRow      `json:"withoutAutoscaler"`
	Groups    []GroupSummary `json:"groups"`
}

// GroupSummary is one group's totals in a run.
type GroupSummary struct {
	Group     string  `json:"group"`
	Requested int     `json:"requested"`
	Added     int     `json:"added"`
	Removed   int     `json:"removed"`
	Peak      int     `json:"peak"`
	NodeHours float64 `json:"nodeHours"`
	Cost      float64 `json:"cost"`
}

func replayRow(r *engine.ReplayResult, o Options) ReplayRow {
	row := ReplayRow{Policy: string(r.Policy), Seed: r.Seed, Pods: r.Pods, Bound: r.Bound, NeverBound: r.NeverBound,
		Waited: r.Pending.Waited, PendingMeanSeconds: round2(r.Pending.Mean), PendingP50Seconds: r.Pending.P50,
		PendingP95Seconds: r.Pending.P95, PendingMaxSeconds: r.Pending.Max,
		PeakAllocation: round2(pctOf(r.PeakAllocatedMilli, r.CapacityMilli))}
	if !o.OmitTiming {
		w := round2(r.Wall.Seconds())
		row.WallSeconds = &w
	}
	return row
}

// ScalingFile is the per-run CSV of scaling events.
func ScalingFile(policy string, seed int64) string {
	return fmt.Sprintf("scaling-%s-seed%d.csv", policy, seed)
}

// WriteScalingCSV writes the scaling events: time, group, op, node, the
// group's registered nodes after the event.
func WriteScalingCSV(w io.Writer, events []engine.ScalingEvent) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"time_s", "group", "op", "node", "group_nodes"})
	for _, e := range events {
		_ = cw.Write([]string{strconv.FormatInt(e.Time, 10), e.Group, e.Op, e.Node, strconv.Itoa(e.Size)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteReplayAutoscale writes a replay-with-autoscaler report into dir:
// report.md, summary.json, and per run the placements and scaling CSVs.
func WriteReplayAutoscale(dir string, meta Meta, am AutoscaleMeta, runs []AutoscaleRun, o Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var rows []AutoscaleRow
	for _, run := range runs {
		a, s := run.Autoscaled, run.Autoscaled.Scaling
		row := AutoscaleRow{Policy: string(a.Policy), Seed: a.Seed, Loops: s.Loops, NodeHours: round2(s.NodeHours()), Cost: round2(s.Cost()),
			With: replayRow(a, o), Without: replayRow(run.Baseline, o)}
		for _, g := range s.Groups {
			row.Added += g.Added
			row.Removed += g.Removed
			row.Groups = append(row.Groups, GroupSummary{Group: g.Group, Requested: g.Requested, Added: g.Added, Removed: g.Removed,
				Peak: g.Peak, NodeHours: round2(g.NodeHours()), Cost: round2(g.Cost())})
		}
		rows = append(rows, row)
		if err := writeFile(dir, PlacementsFile(string(a.Policy), a.Seed), func(w io.Writer) error { return WritePlacementsCSV(w, a.Placements) }); err != nil {
			return err
		}
		if err := writeFile(dir, ScalingFile(string(a.Policy), a.Seed), func(w io.Writer) error { return WriteScalingCSV(w, s.Events) }); err != nil {
			return err
		}
	}
	if err := writeFile(dir, "summary.json", func(w io.Writer) error { return writeJSON(w, rows) }); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# Gantry simulator: trace replay with the autoscaler\n\n")
	fmt.Fprintf(&b, "Trace: %s, %d pods; arrivals and departures from creation_time/deletion_time in virtual time. ", meta.Trace, meta.Pods)
	fmt.Fprintf(&b, "The real gantry-autoscaler loop (autoscaler/core RunOnce) runs on virtual time with the configuration %s, against simulated node groups whose nodes register %s after a scale-up (burst groups at once); the cluster starts with %d static node(s). ", am.ConfigFile, am.BootDelay, am.StaticNodes)
	fmt.Fprintf(&b, "Without the autoscaler: the same replay on the trace's %d nodes (%d GPUs), no autoscaler.\n\n", meta.Nodes, meta.GPUs)
	if meta.Command != "" {
		fmt.Fprintf(&b, "Command:\n\n```\n%s\n```\n\n", meta.Command)
	}
	b.WriteString("Node groups:\n\n")
	for _, g := range am.Groups {
		fmt.Fprintf(&b, "- %s\n", g)
	}
	b.WriteString("\n## Pending time and cost\n\n")
	b.WriteString("| policy | seed | run | bound | never bound | waited | mean pending | p50 | p95 | max | nodes added | nodes removed | node-hours | cost | loops |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		for _, side := range []struct {
			name string
			row  ReplayRow
			rest string
		}{
			{"with autoscaler", r.With, fmt.Sprintf("%d | %d | %s | %s | %d", r.Added, r.Removed, f2(r.NodeHours), f2(r.Cost), r.Loops)},
			{"without (trace's nodes)", r.Without, "- | - | - | - | -"},
		} {
			x := side.row
			fmt.Fprintf(&b, "| %s | %d | %s | %d | %d | %d | %s s | %d s | %d s | %d s | %s |\n", r.Policy, r.Seed, side.name, x.Bound, x.NeverBound, x.Waited,
				f2(x.PendingMeanSeconds), x.PendingP50Seconds, x.PendingP95Seconds, x.PendingMaxSeconds, side.rest)
		}
	}
	b.WriteString("\n## Per node group\n\n")
	b.WriteString("Node-hours are billed from the scale-up request to the node's removal (or the end of the replay); cost is node-hours x price per hour. The nodes added and removed over time are in scaling-<policy>-seed<seed>.csv.\n\n")
	b.WriteString("| policy | seed | group | requested | added | removed | peak nodes | node-hours | cost |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		for _, g := range r.Groups {
			fmt.Fprintf(&b, "| %s | %d | %s | %d | %d | %d | %d | %s | %s |\n", r.Policy, r.Seed, g.Group, g.Requested, g.Added, g.Removed, g.Peak, f2(g.NodeHours), f2(g.Cost))
		}
	}
	return writeFile(dir, "report.md", func(w io.Writer) error { _, err := io.WriteString(w, b.String()); return err })
}
