package engine

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/simulator/bound"
	"github.com/gantry-dev/gantry/simulator/trace"
	"github.com/gantry-dev/gantry/simulator/workload"
)

// Config is one run: a trace, a policy and a seed.
type Config struct {
	Trace  trace.Trace
	Policy policy.Type
	Seed   int64
	// Ratio is the inflation target (arrived GPU demand over capacity);
	// 0 means workload.DefaultTuneRatio.
	Ratio float64
	// Coverage is the popularity cut of the target workload; 0 means
	// workload.DefaultCoverage.
	Coverage float64
	// LearnedWorkload gives the scheduler plugin no workload, so that FGD
	// measures against the estimate it learns from the pods it is asked to
	// place (as a live scheduler without a configured workload does)
	// instead of the trace's own distribution.
	LearnedWorkload bool
	// Profile, when set, is a KubeSchedulerConfiguration whose first
	// profile the run uses as a cluster would: every scorer it enables,
	// with its weights, and its percentageOfNodesToScore (the default is the
	// FGD paper's: the plugin scores alone, on every node).
	Profile string
	// Mode is how pods ask for devices and which plugin places them
	// (empty: DevicePlugin).
	Mode Mode
	// Progress, when set, is called after every submitted pod with the
	// number done and the total.
	Progress func(done, total int)
}

func (c Config) ratio() float64 {
	if c.Ratio <= 0 {
		return workload.DefaultTuneRatio
	}
	return c.Ratio
}

func (c Config) coverage() float64 {
	if c.Coverage <= 0 {
		return workload.DefaultCoverage
	}
	return c.Coverage
}

// Placement is where one pod went (Node empty when it failed).
type Placement struct {
	Pod     string
	Node    string
	Devices []int
	Model   string
	// Time is the virtual time of the placement: the submission index in an
	// inflation run, seconds from the trace's start in a replay.
	Time int64
}

// Sample is the cluster's state after one submitted pod.
type Sample struct {
	ArrivedMilli   int64
	AllocatedMilli int64
	// FragRatio is the fragmentation amount over idle GPU (0..1).
	FragRatio float64
	// FragMilli is the fragmentation amount in milli-GPU.
	FragMilli float64
}

// InflationResult is the outcome of one inflation run.
type InflationResult struct {
	Policy        policy.Type
	Seed          int64
	Ratio         float64
	Nodes         int
	CapacityMilli int64
	Submitted     int
	Failed        int
	// AllocatedMilli is the milli-GPU allocated at the end.
	AllocatedMilli int64
	// GPUsUsed counts GPUs with any allocation at the end; GPUs all of them.
	GPUsUsed, GPUs int
	Samples        []Sample
	Placements     []Placement
	Curve          []CurvePoint
	// LearnedWorkload is Config.LearnedWorkload.
	LearnedWorkload bool
	// Mode is the mode the pods were placed in.
	Mode Mode
	// Bound is an upper limit on the headline that no placement policy can
	// pass on this run's pods (simulator/bound).
	Bound bound.Result
	Wall  time.Duration
}

// Headline is the binned milli-GPU allocation (percent) at the inflation
// target (130 % for the paper), the paper's Fig. 9a point; when that bin is
// absent, the last bin.
func (r *InflationResult) Headline() float64 {
	x := int(math.RoundToEven(r.ratio() * 100))
	for _, p := range r.Curve {
		if p.X == x {
			return p.Allocated
		}
	}
	if len(r.Curve) == 0 {
		return 0
	}
	return r.Curve[len(r.Curve)-1].Allocated
}

func (r *InflationResult) ratio() float64 {
	if r.Ratio <= 0 {
		return workload.DefaultTuneRatio
	}
	return r.Ratio
}

// FinalAllocatedPercent is the milli-GPU allocated at the end over capacity.
func (r *InflationResult) FinalAllocatedPercent() float64 {
	return pct(r.AllocatedMilli, r.CapacityMilli)
}

// GPUsUsedPercent is GPUs with any allocation over all GPUs.
func (r *InflationResult) GPUsUsedPercent() float64 {
	return pct(int64(r.GPUsUsed), int64(r.GPUs))
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b) * 100
}

// RunInflation runs the FGD paper's workload-inflation experiment
// (fgd-anchor §5): seed, shuffle and inflate the pods to Ratio of the GPU
// capacity, prefix node names for tie-breaking, and submit every pod once
// through the real scheduler, with no retries and no departures.
func RunInflation(ctx context.Context, cfg Config) (*InflationResult, error) {
	start := time.Now()
	if err := cfg.Mode.check(cfg.LearnedWorkload); err != nil {
		return nil, err
	}
	t := cfg.Trace
	var capacity int64
	gpus := 0
	for _, n := range t.Nodes {
		capacity += n.GPUMilli()
		gpus += n.GPUs
	}
	w := WorkloadOf(workload.Shapes(t.Pods, cfg.coverage()))
	proto := workload.NewProtocol(cfg.Seed)
	pods := proto.Inflate(t.Pods, cfg.ratio(), capacity)
	keys := proto.NodePrefixes(t.Nodes)

	s, err := newSim(ctx, t.Nodes, keys, cfg.Policy, cfg.Seed, w, cfg.Mode, cfg.simOptions()...)
	if err != nil {
		return nil, err
	}
	limit, err := bound.Inflation(t, pods, cfg.ratio())
	if err != nil {
		return nil, err
	}
	res := &InflationResult{Bound: limit, LearnedWorkload: cfg.LearnedWorkload, Mode: cfg.Mode.orDefault(),
		Policy: cfg.Policy, Seed: cfg.Seed, Ratio: cfg.ratio(), Nodes: len(t.Nodes),
		CapacityMilli: capacity, GPUs: gpus, Submitted: len(pods),
		Samples:    make([]Sample, 0, len(pods)),
		Placements: make([]Placement, 0, len(pods)),
	}
	var arrived int64
	for i, p := range pods {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		arrived += p.TotalGPUMilli()
		pl, _, ok, err := s.schedule(ctx, p, PodObject(p))
		if err != nil {
			return nil, err
		}
		rec := Placement{Pod: p.Name, Time: int64(i)}
		if ok {
			rec.Node, rec.Devices, rec.Model = pl.node, pl.devices, pl.model
		} else {
			res.Failed++
		}
		res.Placements = append(res.Placements, rec)
		res.Samples = append(res.Samples, Sample{
			ArrivedMilli:   arrived,
			AllocatedMilli: s.allocatedMilli,
			FragRatio:      s.fragRatio(),
			FragMilli:      s.fragUnits * trace.MilliPerPercent,
		})
		if cfg.Progress != nil {
			cfg.Progress(i+1, len(pods))
		}
	}
	res.AllocatedMilli = s.allocatedMilli
	for _, n := range s.states {
		for _, d := range n.Devices {
			if d.Used > 0 {
				res.GPUsUsed++
			}
		}
	}
	res.Curve = BinCurve(res.Samples, capacity)
	res.Wall = time.Since(start)
	if res.AllocatedMilli > capacity {
		return nil, fmt.Errorf("allocated %d milli-GPU over a capacity of %d", res.AllocatedMilli, capacity)
	}
	return res, nil
}
