package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gantry-dev/gantry/simulator/engine"
)

// ModeRow compares one run in a DRA mode with the device-plugin run of the
// same policy and seed (for dra-upstream, whose policy plays no part, with
// each device-plugin run of the seed), pod by pod.
type ModeRow struct {
	// Policy is the device-plugin run's policy; Mode the DRA run's mode.
	Policy string
	Mode   engine.Mode
	Seed   int64
	// DRA and DevicePlugin are the allocations at the target (percent).
	DRA, DevicePlugin float64
	// FailedDRA and FailedDevicePlugin count the tasks that fit nowhere.
	FailedDRA, FailedDevicePlugin int
	// Same counts the pods placed on the same node and the same cards (or
	// failed in both); Pods is how many were submitted.
	Same, Pods int
	// FirstDiffer is the first pod placed differently ("" when none).
	FirstDiffer string
}

// ModeRows pairs every DRA-mode inflation run with its device-plugin runs.
func ModeRows(results []*engine.InflationResult) []ModeRow {
	var out []ModeRow
	rs := sorted(results)
	for _, r := range rs {
		if !r.Mode.IsDRA() || r.LearnedWorkload {
			continue
		}
		for _, d := range rs {
			if d.Mode.IsDRA() || d.LearnedWorkload || d.Seed != r.Seed || (r.Mode.UsesPolicy() && d.Policy != r.Policy) {
				continue
			}
			row := ModeRow{Policy: string(d.Policy), Mode: r.Mode, Seed: r.Seed, DRA: r.Headline(), DevicePlugin: d.Headline(),
				FailedDRA: r.Failed, FailedDevicePlugin: d.Failed, Pods: len(d.Placements)}
			for i, p := range d.Placements {
				if i < len(r.Placements) && samePlacement(p, r.Placements[i]) {
					row.Same++
				} else if row.FirstDiffer == "" {
					row.FirstDiffer = p.Pod
				}
			}
			out = append(out, row)
		}
	}
	return out
}

func samePlacement(a, b engine.Placement) bool {
	return a.Pod == b.Pod && a.Node == b.Node && slices.Equal(a.Devices, b.Devices)
}

// writeModes writes the DRA modes' comparison, if any run was in one.
func writeModes(b *strings.Builder, results []*engine.InflationResult) {
	rows := ModeRows(results)
	if len(rows) == 0 {
		return
	}
	b.WriteString("## DRA mode vs device-plugin mode\n\n")
	b.WriteString("Each run in a DRA mode beside the device-plugin run of the same policy and seed (same pods in the same order): its allocation at 130 %, tasks failed, and how many pods it placed on the same node and the same cards (or failed in both). dra: GantryDRA, the policy's node score and card order; dra-first-fit: the policy's node score, upstream's first-fit card; dra-upstream: the stock DynamicResources plugin, no Gantry score.\n\n")
	b.WriteString("| policy (device-plugin run) | DRA mode | seed | allocation at 130 %, DRA | device-plugin | difference | tasks failed, DRA | device-plugin | pods placed alike | first pod placed differently |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		first := "none"
		if r.FirstDiffer != "" {
			first = "`" + r.FirstDiffer + "`"
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s %% | %s %% | %+.2f pp | %d | %d | %d of %d | %s |\n", r.Policy, r.Mode, r.Seed, f2(r.DRA), f2(r.DevicePlugin), r.DRA-r.DevicePlugin, r.FailedDRA, r.FailedDevicePlugin, r.Same, r.Pods, first)
	}
	b.WriteString("\n")
}

// modesLine says which modes placed the pods.
func modesLine(results []*engine.InflationResult) string {
	var ms []string
	seen := map[engine.Mode]bool{}
	for _, r := range sorted(results) {
		m := r.Mode
		if m == "" {
			m = engine.DevicePlugin
		}
		if !seen[m] {
			seen[m] = true
			ms = append(ms, string(m))
		}
	}
	slices.SortFunc(ms, func(a, b string) int { return modeRank(engine.Mode(a)) - modeRank(engine.Mode(b)) })
	if len(ms) == 1 && ms[0] == string(engine.DevicePlugin) {
		return "Mode: device-plugin. Every pod went through the real kube-scheduler framework with the GantryDeviceShare plugin."
	}
	return "Modes: " + strings.Join(ms, ", ") + ". Every pod went through the real kube-scheduler framework: in device-plugin mode with the GantryDeviceShare plugin; in the DRA modes as a ResourceClaim on the nodes' gpu.gantry.dev ResourceSlices, through GantryDRA (dra, dra-first-fit) or the stock DynamicResources plugin (dra-upstream)."
}
