package trace

import (
	"fmt"
	"sort"
	"strings"
)

// Normalization names one kind of harmless irregularity that a reader repairs instead of refusing the
// input, because the FGD reference simulator's own reader accepts it with the same meaning. Every repair
// is counted (Normalizations) and reported; anything else that is off is still an error.
type Normalization string

const (
	// RepeatedGPUModel: a gpu_spec names a model more than once, e.g. "V100M16|V100M32|V100M32" (rows of
	// the published openb_pod_list_gpuspec* lists do). A model list is a set: the repeats are dropped.
	RepeatedGPUModel Normalization = "gpu_spec names a model more than once (repeats dropped)"
	// EmptyGPUModel: a gpu_spec has an empty entry: "T4||A10", or a leading or trailing "|". The
	// reference's converter drops empty entries (a list left empty means any model); so does ReadPods.
	EmptyGPUModel Normalization = "gpu_spec has an empty entry (dropped)"
)

// Normalizations counts the rows a reader repaired, per kind (a row with several repairs of one kind
// counts once for it).
type Normalizations map[Normalization]int

// Rows is the number of repairs, all kinds together.
func (n Normalizations) Rows() int {
	total := 0
	for _, c := range n {
		total += c
	}
	return total
}

// Lines renders one "N rows: kind" line per kind, sorted by kind; none when nothing was repaired.
func (n Normalizations) Lines() []string {
	kinds := make([]string, 0, len(n))
	for k, c := range n {
		if c > 0 {
			kinds = append(kinds, string(k))
		}
	}
	sort.Strings(kinds)
	lines := make([]string, len(kinds))
	for i, k := range kinds {
		c := n[Normalization(k)]
		unit := "rows"
		if c == 1 {
			unit = "row"
		}
		lines[i] = fmt.Sprintf("%d %s: %s", c, unit, k)
	}
	return lines
}

// String is Lines joined by "; ", or "none".
func (n Normalizations) String() string {
	if l := n.Lines(); len(l) > 0 {
		return strings.Join(l, "; ")
	}
	return "none"
}

func (n Normalizations) add(k Normalization) { n[k]++ }

// normalizeModels drops empty entries and repeats from a split model list, recording each kind of
// repair once in seen. A list left empty is nil (any model).
func normalizeModels(models []string, seen map[Normalization]bool) []string {
	out := models[:0]
	have := make(map[string]bool, len(models))
	for _, m := range models {
		switch {
		case m == "":
			seen[EmptyGPUModel] = true
		case have[m]:
			seen[RepeatedGPUModel] = true
		default:
			have[m] = true
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
