package report

import (
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/gantry-dev/gantry/simulator/engine"
)

// PlotUnallocated saves a PNG of unallocated GPU share (percent of
// capacity) against arrived GPU demand (percent of capacity), one line
// per policy (the mean over its seeds per bin), like the FGD paper's
// Fig. 9a. Only the tail of the curve (from fromPct arrived) is drawn,
// where policies differ.
func PlotUnallocated(path string, results []*engine.InflationResult, fromPct int) error {
	p := plot.New()
	p.Title.Text = "Unallocated GPU vs arrived workload"
	p.X.Label.Text = "arrived GPU demand (% of capacity)"
	p.Y.Label.Text = "unallocated GPU (% of capacity)"
	p.Add(plotter.NewGrid())
	p.Legend.Top = true

	type acc struct {
		sum float64
		n   int
	}
	byPolicy := map[string]map[int]*acc{}
	for _, r := range results {
		k := label(r.Policy, false, r.Mode)
		m := byPolicy[k]
		if m == nil {
			m = map[int]*acc{}
			byPolicy[k] = m
		}
		for _, c := range r.Curve {
			if c.X < fromPct {
				continue
			}
			a := m[c.X]
			if a == nil {
				a = &acc{}
				m[c.X] = a
			}
			a.sum += c.Unallocated
			a.n++
		}
	}
	policies := make([]string, 0, len(byPolicy))
	for k := range byPolicy {
		policies = append(policies, k)
	}
	sort.Strings(policies)
	for i, pol := range policies {
		m := byPolicy[pol]
		xs := make([]int, 0, len(m))
		for x := range m {
			xs = append(xs, x)
		}
		sort.Ints(xs)
		pts := make(plotter.XYs, len(xs))
		for j, x := range xs {
			pts[j].X, pts[j].Y = float64(x), m[x].sum/float64(m[x].n)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(pol, l)
	}
	p.Legend.ThumbnailWidth = vg.Points(24)
	p.Y.Min = 0
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
