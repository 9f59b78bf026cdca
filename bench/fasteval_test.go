package bench

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
	"github.com/gantry-dev/gantry/simulator/engine"
	"github.com/gantry-dev/gantry/simulator/trace"
	"github.com/gantry-dev/gantry/simulator/workload"
)

// fastRun is one inflation run of the paper's protocol without the
// kube-scheduler framework, for comparing policies over many traces and
// seeds: every node is filtered (host CPU, memory, pod count, core's Fit)
// and scored by the strategy, the highest score wins and ties go to the
// smallest prefixed node name, as in engine.RunInflation. It gives the same
// allocation and failed tasks as gantry-sim on every run compared
// (bench/ours.md); it is a research tool, not the reference: published
// figures come from gantry-sim or the engine.
type fastRun struct {
	headline  float64
	failed    int
	submitted int
	unalloc   int64 // milli-GPU free at the end
}

type memo struct {
	gen   uint64
	alloc contract.Allocation
	score int64
	ok    bool
}

func runFast(variant string, tr trace.Trace, typ policy.Type, seed int64) (fastRun, error) {
	var capacity int64
	for _, n := range tr.Nodes {
		capacity += n.GPUMilli()
	}
	w := engine.WorkloadOf(workload.Shapes(tr.Pods, workload.DefaultCoverage))
	proto := workload.NewProtocol(seed)
	pods := proto.Inflate(tr.Pods, workload.DefaultTuneRatio, capacity)
	keys := proto.NodePrefixes(tr.Nodes)
	order := make([]int, len(tr.Nodes))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return keys[tr.Nodes[order[a]].Name] < keys[tr.Nodes[order[b]].Name] })
	nodes := make([]trace.Node, len(order))
	states := make([]*state.NodeState, len(order))
	for i, j := range order {
		n := tr.Nodes[j]
		nodes[i] = n
		states[i] = state.New(n.Name, "", engine.Inventory(n)).WithHost(n.CPUMilli, n.CPUMilli, n.MemoryMiB)
	}
	strat, err := policy.New(typ, policy.Options{Workload: w, Seed: seed})
	if err != nil {
		return fastRun{}, fmt.Errorf("policy %s: %w", typ, err)
	}
	memos := make([]map[string]memo, len(states))
	for i := range memos {
		memos[i] = map[string]memo{}
	}
	var dump *os.File
	if d := os.Getenv("GANTRY_DUMP"); d != "" {
		dump, err = os.Create(fmt.Sprintf("%s/%s-%s-%d.csv", d, variant, typ, seed))
		if err != nil {
			return fastRun{}, fmt.Errorf("end-state dump: %w", err)
		}
	}
	var arrived, allocated int64
	samples := make([]engine.Sample, 0, len(pods))
	failed := 0
	for _, p := range pods {
		arrived += p.TotalGPUMilli()
		req, err := share.Parse(engine.PodObject(p))
		if err != nil {
			return fastRun{}, fmt.Errorf("pod %s: %w", p.Name, err)
		}
		key := fmt.Sprintf("%v|%v|%d|%d", req.Parts, req.Models, req.CPUMilli, req.MemoryMiB)
		best, bestScore := -1, int64(math.MinInt64)
		var bestAlloc contract.Allocation
		for i, n := range states {
			if n.CPUFreeMilli < p.CPUMilli || n.MemoryFreeMiB < p.MemoryMiB || n.Pods() >= engine.PodsPerNode {
				continue
			}
			if !req.Empty() {
				if _, ok := state.Fit(n, req); !ok {
					continue
				}
			}
			m, hit := memos[i][key]
			if !hit || m.gen != n.Generation {
				a, s, ok := strat.Score(n, req)
				m = memo{gen: n.Generation, alloc: a, score: s, ok: ok}
				memos[i][key] = m
			}
			if !m.ok {
				continue
			}
			s := m.score
			if strat.Normalization() == policy.Clamp {
				s = min(max(s, 0), policy.MaxScore)
			}
			if s > bestScore {
				best, bestScore, bestAlloc = i, s, m.alloc
			}
		}
		if best < 0 {
			failed++
			if dump != nil {
				fmt.Fprintf(dump, "F,%d,%d,%d,%d,%s\n", p.CPUMilli, p.MemoryMiB, p.NumGPU, p.GPUMilli, strings.Join(p.GPUSpec, "|"))
			}
		} else {
			if dump != nil {
				fmt.Fprintf(dump, "P,%d,%d,%d,%d,%s,%d,%d,%d\n", p.CPUMilli, p.MemoryMiB, p.NumGPU, p.GPUMilli, nodes[best].Model, states[best].Free(device.GPU), states[best].CPUFreeMilli, states[best].MemoryFreeMiB)
			}
			h := state.Holding{Allocation: bestAlloc, CPUMilli: p.CPUMilli, MemoryMiB: p.MemoryMiB}
			if err := states[best].Assign(engine.Namespace+"/"+p.Name, h); err != nil {
				return fastRun{}, fmt.Errorf("pod %s on %s: %w", p.Name, nodes[best].Name, err)
			}
			for _, c := range bestAlloc.Containers {
				for _, d := range c.Devices {
					allocated += int64(d.Units) * trace.MilliPerPercent
				}
			}
		}
		samples = append(samples, engine.Sample{ArrivedMilli: arrived, AllocatedMilli: allocated})
	}
	if dump != nil {
		for i, n := range states {
			fr := make([]string, len(n.Devices))
			for d := range n.Devices {
				fr[d] = strconv.Itoa(n.Devices[d].Free())
			}
			comp := make([][]string, len(n.Devices))
			for _, k := range n.PodKeys() {
				h, _ := n.Holding(k)
				for _, c := range h.Allocation.Containers {
					for _, d := range c.Devices {
						if j := n.DeviceIndex(d.ID); j >= 0 {
							comp[j] = append(comp[j], strconv.Itoa(d.Units))
						}
					}
				}
			}
			for j := range comp {
				sort.Strings(comp[j])
				fmt.Fprintf(dump, "C,%s,%s\n", nodes[i].Model, strings.Join(comp[j], "+"))
			}
			fmt.Fprintf(dump, "N,%s,%s,%d,%d,%d,%d,%s\n", nodes[i].Name, nodes[i].Model, nodes[i].CPUMilli, n.CPUFreeMilli, nodes[i].MemoryMiB, n.MemoryFreeMiB, strings.Join(fr, " "))
		}
		dump.Close()
	}
	r := &engine.InflationResult{Ratio: workload.DefaultTuneRatio, Curve: engine.BinCurve(samples, capacity)}
	return fastRun{headline: r.Headline(), failed: failed, submitted: len(pods), unalloc: capacity - allocated}, nil
}

// TestFastEval compares policies over traces and seeds; it runs only when
// asked (not in make test):
//
//	GANTRY_FASTEVAL=FGD,LookaheadFGD GANTRY_TRACES=default,gpushare40 GANTRY_SEEDS=42-44 go test ./bench -run FastEval -v
//
// The first policy is the baseline of the "unalloc-reduction" column
// (1 - unallocated/baseline's unallocated, at 130 % arrived demand).
// GANTRY_TRACES defaults to all eleven shared traces, GANTRY_SEEDS to
// 42-44, GANTRY_PAR (runs at once) to 2, GANTRY_TRACE_DIR to
// /work/shared/traces/alibaba-gpu-v2023. GANTRY_DUMP=<dir> writes each
// run's end state to <dir>/<trace>-<policy>-<seed>.csv: "F" rows for failed
// pods (cpu, memory, GPUs, milli, models), "P" rows for placed ones (the
// same, then the node's model, free GPU units, CPU and memory after), one
// "C" row per GPU with the shares it holds in percent ("81", "47+47"; empty
// when free) and one "N" row per node (name, model, CPU, CPU free, memory,
// memory free, free percent per GPU).
func TestFastEval(t *testing.T) {
	pols := os.Getenv("GANTRY_FASTEVAL")
	if pols == "" {
		t.Skip("GANTRY_FASTEVAL not set")
	}
	traces := strings.Split(envOr("GANTRY_TRACES", "default,gpushare40,gpushare60,gpushare80,gpushare100,multigpu20,multigpu30,multigpu40,multigpu50,gpuspec20,cpu100"), ",")
	lo, hi := 42, 44
	if s := os.Getenv("GANTRY_SEEDS"); s != "" {
		a, b, _ := strings.Cut(s, "-")
		lo, _ = strconv.Atoi(a)
		hi = lo
		if b != "" {
			hi, _ = strconv.Atoi(b)
		}
	}
	dir := envOr("GANTRY_TRACE_DIR", "/work/shared/traces/alibaba-gpu-v2023")
	types := strings.Split(pols, ",")
	type job struct {
		tr   string
		seed int64
		pol  policy.Type
	}
	var jobs []job
	loaded := map[string]trace.Trace{}
	for _, v := range traces {
		tr, err := trace.LoadDir(dir, v)
		require.NoError(t, err)
		loaded[v] = tr
		for s := lo; s <= hi; s++ {
			for _, p := range types {
				jobs = append(jobs, job{v, int64(s), policy.Type(p)})
			}
		}
	}
	results := make([]fastRun, len(jobs))
	errs := make([]error, len(jobs))
	par, _ := strconv.Atoi(envOr("GANTRY_PAR", "2"))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], errs[i] = runFast(j.tr, loaded[j.tr], j.pol, j.seed)
			fmt.Fprintf(os.Stderr, "done %s %d %s %.2f %% failed %d\n", j.tr, j.seed, j.pol, results[i].headline, results[i].failed)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	base := map[string]fastRun{}
	for i, j := range jobs {
		if string(j.pol) == types[0] {
			base[fmt.Sprintf("%s/%d", j.tr, j.seed)] = results[i]
		}
	}
	sums := map[policy.Type]float64{}
	worst := map[policy.Type]float64{}
	for i, j := range jobs {
		r := results[i]
		b := base[fmt.Sprintf("%s/%d", j.tr, j.seed)]
		red := (1 - (100-r.headline)/(100-b.headline)) * 100
		sums[j.pol] += red
		if red < worst[j.pol] {
			worst[j.pol] = red
		}
		t.Logf("%-12s %d %-22s %6.2f %% failed %5d  unalloc-reduction %+6.1f %%  (d %+5.2f pp)", j.tr, j.seed, j.pol, r.headline, r.failed, red, r.headline-b.headline)
	}
	n := float64(len(traces) * (hi - lo + 1))
	for _, p := range types {
		t.Logf("SUMMARY %-22s mean unalloc reduction %+6.2f %%  worst %+6.2f %%", p, sums[policy.Type(p)]/n, worst[policy.Type(p)])
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}
