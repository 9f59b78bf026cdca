package engine

import "math"

// CurvePoint is one bin of the allocation curve: X is the arrived GPU
// demand in integer percent of capacity, the others are means over the
// samples of that bin, in percent.
type CurvePoint struct {
	X int
	// Allocated is the milli-GPU allocation ratio (percent, 2 decimals).
	Allocated float64
	// Unallocated is 100 - Allocated.
	Unallocated float64
	// FragRatio is the mean fragmentation ratio (percent of idle GPU, 2 decimals).
	FragRatio float64
	// Samples is how many samples fell in the bin (0: filled from neighbours).
	Samples int
}

// BinCurve bins samples as the reference's analysis does (fgd-anchor §5
// step 7): x = arrived / capacity * 100 rounded half to even (Python's
// round), y = mean over the bin's samples of allocated / capacity * 100
// rounded to 2 decimals; a bin with no samples between the first and the
// last gets the mean of its non-empty neighbours x-1 and x+1.
func BinCurve(samples []Sample, capacityMilli int64) []CurvePoint {
	if len(samples) == 0 || capacityMilli <= 0 {
		return nil
	}
	type acc struct {
		alloc, frag float64
		n           int
	}
	bins := map[int]*acc{}
	lo, hi := math.MaxInt, math.MinInt
	for _, s := range samples {
		x := int(math.RoundToEven(float64(s.ArrivedMilli) / float64(capacityMilli) * 100))
		a := bins[x]
		if a == nil {
			a = &acc{}
			bins[x] = a
		}
		a.alloc += float64(s.AllocatedMilli) / float64(capacityMilli) * 100
		a.frag += s.FragRatio * 100
		a.n++
		lo, hi = min(lo, x), max(hi, x)
	}
	out := make([]CurvePoint, 0, hi-lo+1)
	for x := lo; x <= hi; x++ {
		p := CurvePoint{X: x}
		if a := bins[x]; a != nil {
			p.Allocated = round2(a.alloc / float64(a.n))
			p.FragRatio = round2(a.frag / float64(a.n))
			p.Samples = a.n
		} else {
			var sa, sf float64
			k := 0
			for _, nx := range []int{x - 1, x + 1} {
				if b := bins[nx]; b != nil {
					sa += b.alloc / float64(b.n)
					sf += b.frag / float64(b.n)
					k++
				}
			}
			if k == 0 {
				continue
			}
			p.Allocated = round2(sa / float64(k))
			p.FragRatio = round2(sf / float64(k))
		}
		p.Unallocated = round2(100 - p.Allocated)
		out = append(out, p)
	}
	return out
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
