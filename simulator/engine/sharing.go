package engine

import (
	"context"
	"fmt"
	"math/rand"
	"time"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/trace"
	"github.com/gantry-dev/gantry/simulator/workload"
)

// SharingConfig is one sharing-gain measurement.
type SharingConfig struct {
	Trace    trace.Trace
	Policy   policy.Type
	Seed     int64
	Coverage float64
	// MaxCopies bounds how many copies of the trace's node list the search
	// may use (0: 8).
	MaxCopies int
}

// SharingResult compares the fewest GPUs that serve every pod of the trace
// with GPU sharing against the fewest with every sharing pod rounded up to a
// whole GPU.
type SharingResult struct {
	Policy policy.Type
	Seed   int64
	Pods   int
	// SharedNodes/SharedGPUs: the smallest prefix of the node order that
	// bound every pod as asked; WholeNodes/WholeGPUs: with shares rounded up.
	SharedNodes, SharedGPUs int
	WholeNodes, WholeGPUs   int
	// Ratio is WholeGPUs / SharedGPUs: how many times more GPUs serving
	// the same pods takes without sharing.
	Ratio float64
	// Probes is how many full placements the search ran.
	Probes int
	Wall   time.Duration
}

// RunSharingGain finds, by binary search over prefixes of a fixed seeded
// order of nodes (the trace's node list shuffled with the seed, then
// repeated as renamed copies when the list itself is too small), the fewest
// nodes on which every pod of the trace binds, submitted once each in a
// seeded shuffled order with no departures; once as the pods ask, once with
// every sharing pod rounded up to one whole GPU.
func RunSharingGain(ctx context.Context, cfg SharingConfig) (*SharingResult, error) {
	start := time.Now()
	cov := cfg.Coverage
	if cov <= 0 {
		cov = workload.DefaultCoverage
	}
	maxCopies := cfg.MaxCopies
	if maxCopies <= 0 {
		maxCopies = 8
	}
	pods := workload.NewProtocol(cfg.Seed).Inflate(cfg.Trace.Pods, 0, 0) // shuffle only
	whole := make([]trace.Pod, len(pods))
	for i, p := range pods {
		whole[i] = p
		if p.IsSharing() {
			whole[i].GPUMilli = trace.MilliPerGPU
		}
	}
	order := append([]trace.Node(nil), cfg.Trace.Nodes...)
	rand.New(rand.NewSource(cfg.Seed)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	pool := make([]trace.Node, 0, len(order)*maxCopies)
	for c := 0; c < maxCopies; c++ {
		for _, n := range order {
			if c > 0 {
				n.Name = fmt.Sprintf("%s-copy%d", n.Name, c)
			}
			pool = append(pool, n)
		}
	}
	res := &SharingResult{Policy: cfg.Policy, Seed: cfg.Seed, Pods: len(pods)}
	search := func(ps []trace.Pod) (int, int, error) {
		w := WorkloadOf(workload.Shapes(ps, cov))
		fits := func(k int) (bool, error) {
			res.Probes++
			s, err := newSim(ctx, pool[:k], nil, cfg.Policy, cfg.Seed, w, DevicePlugin)
			if err != nil {
				return false, err
			}
			for _, p := range ps {
				if err := ctx.Err(); err != nil {
					return false, err
				}
				_, _, ok, err := s.schedule(ctx, p, PodObject(p))
				if err != nil {
					return false, err
				}
				if !ok {
					return false, nil
				}
			}
			return true, nil
		}
		// Grow by whole copies of the node list until everything fits, then
		// binary search the prefix length below that.
		hi := len(order)
		for {
			ok, err := fits(hi)
			if err != nil {
				return 0, 0, err
			}
			if ok {
				break
			}
			if hi == len(pool) {
				return 0, 0, fmt.Errorf("the pods do not fit on %d copies of the node list", maxCopies)
			}
			hi = min(len(pool), hi*2)
		}
		lo := 0 // lo never fits (0 nodes), hi always does
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			ok, err := fits(mid)
			if err != nil {
				return 0, 0, err
			}
			if ok {
				hi = mid
			} else {
				lo = mid
			}
		}
		gpus := 0
		for _, n := range pool[:hi] {
			gpus += n.GPUs
		}
		return hi, gpus, nil
	}
	var err error
	if res.SharedNodes, res.SharedGPUs, err = search(pods); err != nil {
		return nil, fmt.Errorf("with sharing: %w", err)
	}
	if res.WholeNodes, res.WholeGPUs, err = search(whole); err != nil {
		return nil, fmt.Errorf("with whole GPUs: %w", err)
	}
	if res.SharedGPUs > 0 {
		res.Ratio = float64(res.WholeGPUs) / float64(res.SharedGPUs)
	}
	res.Wall = time.Since(start)
	return res, nil
}
