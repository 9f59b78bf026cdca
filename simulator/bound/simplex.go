package bound

import (
	"errors"
	"math"
)

// errIterations means the simplex ran out of pivots before it was optimal.
var errIterations = errors.New("simplex: iteration limit reached")

// maximize solves max c^T x subject to A x <= b, x >= 0, for b >= 0, with a
// dense tableau simplex started from the slack basis (feasible since b >= 0).
// It returns the optimum, x and the dual y (y >= 0, one per row). Pivots
// follow Dantzig's rule and switch to Bland's rule, which cannot cycle,
// after a run of degenerate pivots.
func maximize(c []float64, a [][]float64, b []float64) (opt float64, x, y []float64, err error) {
	m, n := len(a), len(c)
	w := n + m + 1 // columns: x, slacks, right-hand side
	t := make([][]float64, m+1)
	t[0] = make([]float64, w)
	for j := range n {
		t[0][j] = -c[j]
	}
	basis := make([]int, m)
	for i := range m {
		row := make([]float64, w)
		copy(row, a[i])
		row[n+i] = 1
		row[w-1] = b[i]
		t[i+1] = row
		basis[i] = n + i
	}
	const eps = 1e-9
	degenerate := 0
	limit := 50 * (m + n)
	for iter := 0; ; iter++ {
		if iter > limit {
			return 0, nil, nil, errIterations
		}
		bland := degenerate > 50
		col := -1
		best := -eps
		for j := 0; j < w-1; j++ {
			if r := t[0][j]; r < best {
				col, best = j, r
				if bland {
					break
				}
			}
		}
		if col < 0 {
			break
		}
		row := -1
		ratio := math.Inf(1)
		for i := 1; i <= m; i++ {
			if v := t[i][col]; v > eps {
				q := t[i][w-1] / v
				if q < ratio-eps || (q < ratio+eps && row >= 0 && basis[i-1] < basis[row-1]) {
					row, ratio = i, q
				}
			}
		}
		if row < 0 {
			return 0, nil, nil, errors.New("simplex: unbounded")
		}
		if ratio < eps {
			degenerate++
		} else {
			degenerate = 0
		}
		pivot(t, row, col)
		basis[row-1] = col
	}
	x = make([]float64, n)
	for i, j := range basis {
		if j < n {
			x[j] = t[i+1][w-1]
		}
	}
	y = make([]float64, m)
	for i := range m {
		y[i] = max(0, t[0][n+i])
	}
	return t[0][w-1], x, y, nil
}

func pivot(t [][]float64, row, col int) {
	pr := t[row]
	inv := 1 / pr[col]
	for j := range pr {
		pr[j] *= inv
	}
	pr[col] = 1
	for i, r := range t {
		if i == row {
			continue
		}
		f := r[col]
		if f == 0 {
			continue
		}
		for j, v := range pr {
			if v != 0 {
				r[j] -= f * v
			}
		}
		r[col] = 0
	}
}
