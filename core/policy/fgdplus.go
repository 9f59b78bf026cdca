package policy

import (
	"fmt"
	"math"

	"github.com/gantry-dev/gantry/core/device"
)

// FGDPlus is FGD with a coarser score. FGD's score floor(100·sigmoid(-Δ/1000
// milli)) already ties nodes whose fragmentation changes lie within about
// 40 milli-GPU of each other, and the tie goes to the node first in a fixed
// (seeded) order: a first-fit among near-equals. Measured on the Alibaba
// trace, ranking by the exact Δ does worse than FGD (every node is a greedy
// choice, and packing or spreading tie-breaks do worse still), while a
// somewhat coarser score does a little better: FGDPlus buckets the sigmoid
// into fgdPlusLevels levels, widening the first-fit window to about 80 milli.
// See bench/README.md for the numbers across traces and seeds.
func newFGDPlus(o Options) (Strategy, error) {
	if err := o.Workload.Validate(); err != nil {
		return nil, fmt.Errorf("FGDPlus needs a workload distribution: %w", err)
	}
	return fgd{w: o.Workload.Normalized(), levels: fgdPlusLevels}, nil
}

// fgdPlusLevels is FGDPlus's number of score levels (FGD has 100).
const fgdPlusLevels = 50

// bucketedScore maps a fragmentation change in units onto levels score
// steps spread over 0..MaxScore.
func bucketedScore(deltaUnits float64, levels int) int64 {
	deltaMilli := deltaUnits * 1000 / device.UnitsPerDevice
	return int64(math.Floor(float64(levels)/(1+math.Exp(deltaMilli/1000)))) * MaxScore / int64(levels)
}
