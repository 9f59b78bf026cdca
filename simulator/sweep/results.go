package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/gantry-dev/gantry/simulator/engine"
)

// Result is what one cell computed: the field of its experiment is set.
type Result struct {
	Inflation *engine.InflationResult `json:"inflation,omitempty"`
	// Replay is a replay's result; with the autoscaler it is the
	// autoscaled replay, and Baseline the same policy and seed replayed on
	// the trace's own nodes.
	Replay   *engine.ReplayResult  `json:"replay,omitempty"`
	Baseline *engine.ReplayResult  `json:"baseline,omitempty"`
	Sharing  *engine.SharingResult `json:"sharing,omitempty"`
}

// holds reports whether r has what g's experiment computes, and nothing
// else.
func (r Result) holds(g *Grid) bool {
	switch g.Experiment {
	case Inflation:
		return r.Inflation != nil && r.Replay == nil && r.Baseline == nil && r.Sharing == nil
	case Replay:
		return r.Inflation == nil && r.Replay != nil && (r.Baseline != nil) == (g.Autoscaler != nil) && r.Sharing == nil
	case SharingGain:
		return r.Inflation == nil && r.Replay == nil && r.Baseline == nil && r.Sharing != nil
	}
	return false
}

// cellFile is what one cell writes.
type cellFile struct {
	Cell   Cell   `json:"cell"`
	Result Result `json:"result"`
}

// CellPath is the file cell i writes under dir.
func CellPath(dir string, index int) string {
	return filepath.Join(dir, fmt.Sprintf("cell-%06d.json", index))
}

// WriteCell writes c's result under dir atomically (a temporary file
// renamed into place), so a cell killed half way leaves no partial file.
func WriteCell(dir string, c Cell, r Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.Marshal(cellFile{Cell: c, Result: r})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".cell-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), CellPath(dir, c.Index))
}

// ErrMissingCells is returned by ReadResults when some cells have not
// written their results.
var ErrMissingCells = errors.New("cells missing")

// ReadResults reads every cell of g from dir and returns, per trace
// variant in grid order, the results in the order a single run of that
// trace returns them. A missing cell, or a file written for another grid
// (its cell differs from the grid's at that index, or it holds another
// experiment's result), is an error.
func ReadResults(g *Grid, dir string) (map[string][]Result, error) {
	out := map[string][]Result{}
	var missing []int
	for _, c := range g.Cells() {
		data, err := os.ReadFile(CellPath(dir, c.Index))
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, c.Index)
			continue
		}
		if err != nil {
			return nil, err
		}
		var f cellFile
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", CellPath(dir, c.Index), err)
		}
		if f.Cell != c || !f.Result.holds(g) {
			return nil, fmt.Errorf("%s holds cell %+v, but this grid's cell %d is %+v: the results folder belongs to another grid", CellPath(dir, c.Index), f.Cell, c.Index, c)
		}
		out[c.Variant] = append(out[c.Variant], f.Result)
	}
	if len(missing) > 0 {
		sort.Ints(missing)
		return nil, fmt.Errorf("%w: %d of %d (indexes %s)", ErrMissingCells, len(missing), len(g.Cells()), ranges(missing))
	}
	return out, nil
}

// ranges renders sorted ints as "1-3,7".
func ranges(xs []int) string {
	s := ""
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if s != "" {
			s += ","
		}
		if i == j {
			s += fmt.Sprint(xs[i])
		} else {
			s += fmt.Sprintf("%d-%d", xs[i], xs[j])
		}
		i = j + 1
	}
	return s
}
