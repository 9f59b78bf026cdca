package inspect

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/device"
)

// ModelRow is the per-model summary: capacity, use and stranded shares,
// in percent of one device (100 = one whole device).
type ModelRow struct {
	Kind, Model string
	Nodes       int
	Devices     int
	Unhealthy   int
	Capacity    int // units of healthy devices
	Used        int
	Free        int
	// Stranded is the free share on partly used devices: it can take
	// fractional requests but no whole-device request.
	Stranded int
}

// Summary returns one row per device kind and model.
func Summary(nodes []corev1.Node, pods []corev1.Pod) ([]ModelRow, []Problem) {
	c := build(nodes, pods, "")
	type key struct{ kind, model string }
	rows := map[key]*ModelRow{}
	seen := map[key]map[string]bool{}
	for _, st := range c.states {
		for i := range st.Devices {
			d := &st.Devices[i]
			k := key{string(d.Kind), d.Model}
			r := rows[k]
			if r == nil {
				r = &ModelRow{Kind: k.kind, Model: k.model}
				rows[k], seen[k] = r, map[string]bool{}
			}
			if !seen[k][st.Name] {
				seen[k][st.Name] = true
				r.Nodes++
			}
			r.Devices++
			if !d.Healthy() {
				r.Unhealthy++
				continue
			}
			r.Capacity += device.UnitsPerDevice
			r.Used += d.Used
			free := d.Free()
			r.Free += free
			if d.Used > 0 && free > 0 {
				r.Stranded += free
			}
		}
	}
	out := make([]ModelRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Model < out[j].Model
	})
	return out, c.problems
}

// PrintSummary writes the summary as a table; shares are in GPUs (or NPUs).
func PrintSummary(w io.Writer, rows []ModelRow, problems []Problem) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tMODEL\tNODES\tDEVICES\tUNHEALTHY\tCAPACITY\tUSED\tFREE\tSTRANDED")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", r.Kind, r.Model, r.Nodes, r.Devices, r.Unhealthy,
			devices(r.Capacity), devices(r.Used), devices(r.Free), devices(r.Stranded))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "Shares in devices (1.00 = one whole card); STRANDED is free share on partly used cards, which no whole-card request can use.")
	for _, p := range problems {
		fmt.Fprintf(w, "warning: %s: %v\n", p.Object, p.Err)
	}
	return nil
}

func devices(units int) string {
	return fmt.Sprintf("%d.%02d", units/device.UnitsPerDevice, units%device.UnitsPerDevice)
}
