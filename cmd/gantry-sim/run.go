package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	asconfig "github.com/gantry-dev/gantry/autoscaler/apis/config"
	asv1alpha1 "github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/internal/version"
	"github.com/gantry-dev/gantry/simulator/engine"
	"github.com/gantry-dev/gantry/simulator/report"
	"github.com/gantry-dev/gantry/simulator/trace"
)

const (
	defaultPolicies = "FGD,LookaheadFGD,BestFit,GPUPacking,GPUClustering,DotProduct,Random"
	// shippedTrace is where the Alibaba trace copy lives in the repository.
	shippedTrace = "simulator/trace/testdata/alibaba-gpu-v2023"
)

type runFlags struct {
	traceDir   string
	variant    string
	nodes      string
	pods       string
	policies   string
	seeds      string
	ratio      float64
	experiment string
	out        string
	parallel   int
	progress   string
	noTiming   bool
	workload   string
	schedCfg   string
	profile    string // the --scheduler-config file's content
	mode       string
	modes      []engine.Mode

	// published is the openb variant of the input when it is one of the
	// reference's published traces (set by loadTrace).
	published string

	autoscalerConfig string
	bootDelay        time.Duration
	keepNodes        int
	autoscale        *autoscaleSetup
}

// autoscaleSetup is the loaded --autoscaler-config.
type autoscaleSetup struct {
	cfg    *asconfig.AutoscalerConfiguration
	static trace.Trace // the trace with the static nodes only
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "gantry-sim",
		Short:         "Trace-driven simulator of Gantry's GPU-sharing scheduler",
		Long:          "gantry-sim replays GPU cluster traces (the Alibaba GPU trace v2023 \"openb\" CSVs, or Gantry's own trace format) through the real kube-scheduler framework with the GantryDeviceShare plugin, and writes reports comparable with the FGD paper (USENIX ATC '23).",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get().String(),
	}
	root.SetVersionTemplate("gantry-sim {{.Version}}\n")
	root.AddCommand(newRunCommand(), newSweepCommand(), newCellCommand(), newMergeCommand())
	return root
}

func newRunCommand() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run an experiment for every policy x seed and write the report",
		Long: `Run an experiment for every policy x seed (in parallel) and write the report into --out.

Experiments:
  inflation     the FGD paper's protocol: shuffle the pods with the seed, re-sample them until
                the arrived GPU demand reaches --ratio of capacity, submit each once (no retry, no
                departures); record allocation, fragmentation and unallocated share per pod.
  replay        arrivals and departures from creation_time/deletion_time in virtual time; pods
                that fit nowhere wait and are retried whenever a pod departs; pending-time stats.
                With --autoscaler-config, the real gantry-autoscaler loop runs every scan interval
                of virtual time: its scale-ups add nodes of its node groups after --boot-delay, its
                scale-downs remove them; the report gives nodes added/removed per group over time
                (scaling-<policy>-seed<seed>.csv), node-hours, cost and pending times with and
                without the autoscaler.
  sharing-gain  the fewest GPUs that serve every pod with sharing vs with every sharing pod
                rounded up to a whole GPU.

Modes (--mode, inflation and replay; default device-plugin):
  device-plugin  pods ask gantry.dev/gpu-percent; GantryDeviceShare places them.
  dra            DRA mode: every node publishes its cards as a gpu.gantry.dev ResourceSlice,
                 every GPU pod asks one ResourceClaim (count, capacity percent, models as CEL);
                 GantryDRA (upstream's DynamicResources plugin seeing each node's cards in the
                 policy's order, plus the policy's node score) places them.
  dra-first-fit  DRA mode with the policy's node score only: upstream's first-fit card.
  dra-upstream   DRA mode with the stock DynamicResources plugin: no Gantry score, first-fit
                 card, first feasible node; runs once per seed whatever --policies says.
  Several modes, comma-separated, run side by side; the report compares each DRA run with
  the device-plugin run of the same policy and seed, pod by pod.

Outputs (inflation): report.md, summary.{md,csv,json}, curves.csv,
placements-<policy>-seed<seed>.csv and unallocated.png.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.traceDir, "trace-dir", "", "folder with the Alibaba openb CSVs (default: the copy shipped in the repository, "+shippedTrace+", found from the working directory or the binary's location)")
	fl.StringVar(&f.variant, "variant", trace.DefaultVariant, "pod list variant in --trace-dir: default, gpushare20..100, multigpu20..50, ... (openb_pod_list_<variant>.csv)")
	fl.StringVar(&f.nodes, "nodes", "", "node list CSV (sn,cpu_milli,memory_mib,gpu,model); default: "+trace.GPUNodeListFile+" in --trace-dir")
	fl.StringVar(&f.pods, "pods", "", "pod list: an Alibaba pod CSV, or a Gantry trace (.yaml/.yml/.json, apiVersion gantry.dev/v1alpha1) that carries its own nodes; default: the --variant list in --trace-dir")
	fl.StringVar(&f.policies, "policies", defaultPolicies, "comma-separated policies to compare; known: "+knownPolicies())
	fl.StringVar(&f.seeds, "seeds", "42", "comma-separated seeds, or ranges such as 42-51")
	fl.Float64Var(&f.ratio, "ratio", 1.3, "inflation target: arrived GPU demand over GPU capacity (inflation only)")
	fl.StringVar(&f.experiment, "experiment", "inflation", "experiment: inflation, replay or sharing-gain")
	fl.StringVar(&f.out, "out", "out/sim", "folder the report is written into (created)")
	fl.IntVar(&f.parallel, "parallel", runtime.GOMAXPROCS(0), "runs (policy x seed) executed at once")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	fl.StringVar(&f.autoscalerConfig, "autoscaler-config", "", "replay only: run the real gantry-autoscaler loop on virtual time with this AutoscalerConfiguration (gantry.dev/v1alpha1, as for gantry-autoscaler; e.g. simulator/engine/testdata/autoscaler-openb.yaml); the report compares it with the replay on the trace's nodes without the autoscaler")
	fl.DurationVar(&f.bootDelay, "boot-delay", 2*time.Minute, "with --autoscaler-config: how long a requested node takes to register (the burst group's nodes register at once)")
	fl.IntVar(&f.keepNodes, "keep-nodes", 0, "with --autoscaler-config: how many of the trace's nodes (the first ones) stay as static, unmanaged nodes; the autoscaler adds the rest from its node groups")
	fl.StringVar(&f.workload, "workload", "trace", "inflation and replay: what FGD measures fragmentation against: trace (the trace's shape distribution, the paper's protocol), learned (the estimate the scheduler plugin learns from the pods it sees, as a live scheduler without a configured workload) or both (every run twice; the report compares them)")
	fl.StringVar(&f.schedCfg, "scheduler-config", "", "inflation only: a KubeSchedulerConfiguration (e.g. manifests/scheduler/scheduler-config.yaml) whose first profile the runs use as a cluster does: every scorer it enables with its weight, and its percentageOfNodesToScore; default: the FGD paper's setup (GantryDeviceShare scores alone, on every node)")
	fl.StringVar(&f.mode, "mode", string(engine.DevicePlugin), "inflation and replay: how pods ask for devices and what places them: device-plugin (gantry.dev/gpu-percent, placed by GantryDeviceShare), dra (every node publishes its cards as a gpu.gantry.dev ResourceSlice, every GPU pod asks through a ResourceClaim, placed by GantryDRA: the policy's node score and card order on upstream's DynamicResources allocator), dra-first-fit (the same, but the card is upstream's first-fit choice: the policy's node score only), dra-upstream (the stock DynamicResources plugin, no Gantry score at all; the policy plays no part and runs once per seed); comma-separated to compare modes in one report")
	fl.BoolVar(&f.noTiming, "no-timing", false, "leave wall times out of the report, so that the same inputs give byte-identical files")
	return cmd
}

func knownPolicies() string {
	var s []string
	for _, t := range policy.Types() {
		s = append(s, string(t))
	}
	return strings.Join(s, ", ")
}

// parseSeeds reads "42", "42,43" or "42-51".
func parseSeeds(v string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if lo, hi, ok := strings.Cut(part[1:], "-"); ok {
			a, err1 := strconv.ParseInt(part[:1]+lo, 10, 64)
			b, err2 := strconv.ParseInt(hi, 10, 64)
			if err1 != nil || err2 != nil || b < a || b-a > 10000 {
				return nil, fmt.Errorf("--seeds: bad range %q", part)
			}
			for s := a; s <= b; s++ {
				out = append(out, s)
			}
			continue
		}
		s, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds: bad seed %q", part)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("--seeds: no seed given")
	}
	return out, nil
}

func parsePolicies(v string) ([]policy.Type, error) {
	known := map[policy.Type]bool{}
	for _, t := range policy.Types() {
		known[t] = true
	}
	var out []policy.Type
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !known[policy.Type(p)] {
			return nil, fmt.Errorf("--policies: unknown policy %q (known: %s)", p, knownPolicies())
		}
		out = append(out, policy.Type(p))
	}
	if len(out) == 0 {
		return nil, errors.New("--policies: no policy given")
	}
	return out, nil
}

// findTraceDir looks for the shipped trace from the working directory and
// the binary's folder upwards.
func findTraceDir() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			c := filepath.Join(d, shippedTrace)
			if st, err := os.Stat(filepath.Join(c, trace.GPUNodeListFile)); err == nil && !st.IsDir() {
				return c, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", fmt.Errorf("cannot find the shipped trace (%s) from the working directory or the binary; pass --trace-dir", shippedTrace)
}

// publishedVariant returns the openb variant of a run on one of the
// reference's published pod lists on its GPU node list ("" otherwise), so
// that the report can compare with the published results.
func publishedVariant(nodes, pods string) string {
	if filepath.Base(nodes) != trace.GPUNodeListFile {
		return ""
	}
	base := filepath.Base(pods)
	v, ok := strings.CutPrefix(base, "openb_pod_list_")
	if !ok {
		return ""
	}
	v, ok = strings.CutSuffix(v, ".csv")
	if !ok {
		return ""
	}
	return v
}

// loadTrace reads the input the flags name and describes it.
func loadTrace(f *runFlags) (trace.Trace, string, error) {
	if f.pods != "" {
		switch strings.ToLower(filepath.Ext(f.pods)) {
		case ".yaml", ".yml", ".json":
			t, err := trace.LoadGantry(f.pods)
			return t, f.pods, err
		}
	}
	dir := f.traceDir
	if dir == "" && (f.nodes == "" || f.pods == "") {
		d, err := findTraceDir()
		if err != nil {
			return trace.Trace{}, "", err
		}
		dir = d
	}
	nodes, pods := f.nodes, f.pods
	desc := fmt.Sprintf("%s, variant %s", filepath.Base(dir), f.variant)
	if nodes == "" {
		nodes = filepath.Join(dir, trace.GPUNodeListFile)
	}
	if pods == "" {
		pods = filepath.Join(dir, trace.PodListFile(f.variant))
	} else {
		desc = pods
	}
	t, err := trace.Load(nodes, pods)
	f.published = publishedVariant(nodes, pods)
	return t, desc, err
}

type job struct {
	policy  policy.Type
	seed    int64
	learned bool
	mode    engine.Mode
}

// parseModes reads --mode: one mode or several, comma-separated.
func parseModes(v string) ([]engine.Mode, error) {
	var out []engine.Mode
	seen := map[engine.Mode]bool{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		m, err := engine.ParseMode(part)
		if err != nil {
			return nil, fmt.Errorf("--mode: %w", err)
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--mode: no mode given")
	}
	return out, nil
}

// checkModes says which flags the DRA modes do not take.
func checkModes(f *runFlags) error {
	dra := false
	for _, m := range f.modes {
		dra = dra || m.IsDRA()
	}
	switch {
	case !dra:
		return nil
	case f.experiment == "sharing-gain":
		return errors.New("--mode dra*: only with --experiment inflation or replay")
	case f.autoscalerConfig != "":
		return errors.New("--mode dra*: not with --autoscaler-config (the autoscaler simulates device-plugin nodes)")
	case f.schedCfg != "":
		return errors.New("--mode dra*: not with --scheduler-config (the DRA modes run their own profile)")
	case f.workload != "trace":
		return errors.New("--mode dra*: only with --workload trace (GantryDRA does not learn a workload from claims)")
	}
	return nil
}

func run(cmd *cobra.Command, f *runFlags) error {
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	switch f.experiment {
	case "inflation", "replay", "sharing-gain":
	default:
		return fmt.Errorf("--experiment: unknown experiment %q (inflation, replay or sharing-gain)", f.experiment)
	}
	pols, err := parsePolicies(f.policies)
	if err != nil {
		return err
	}
	seeds, err := parseSeeds(f.seeds)
	if err != nil {
		return err
	}
	if f.modes, err = parseModes(f.mode); err != nil {
		return err
	}
	if err := checkModes(f); err != nil {
		return err
	}
	if f.parallel < 1 {
		return errors.New("--parallel must be at least 1")
	}
	if f.experiment == "inflation" && f.ratio <= 0 {
		return errors.New("--ratio must be positive")
	}
	switch {
	case f.workload != "trace" && f.workload != "learned" && f.workload != "both":
		return fmt.Errorf("--workload: unknown value %q (trace, learned or both)", f.workload)
	case f.workload != "trace" && (f.experiment == "sharing-gain" || f.autoscalerConfig != ""):
		return errors.New("--workload learned or both: only with --experiment inflation or replay (without --autoscaler-config)")
	}
	if f.schedCfg != "" {
		if f.experiment != "inflation" {
			return errors.New("--scheduler-config: only with --experiment inflation")
		}
		data, err := os.ReadFile(f.schedCfg)
		if err != nil {
			return fmt.Errorf("--scheduler-config: %w", err)
		}
		f.profile = string(data)
	}
	if f.autoscalerConfig != "" && f.experiment != "replay" {
		return errors.New("--autoscaler-config: only with --experiment replay")
	}
	t, desc, err := loadTrace(f)
	if err != nil {
		return err // file:line reasons; nothing has been written
	}
	if err := setupAutoscale(f, t); err != nil {
		return err // field paths; nothing written
	}
	// The runs allocate many short-lived objects and keep a small live heap:
	// a lazier GC is faster, and a soft limit keeps parallel runs in check.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(2 << 30)

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()

	var jobs []job
	for _, m := range f.modes {
		for i, p := range pols {
			if !m.UsesPolicy() && i > 0 {
				break // the policy plays no part: once per seed
			}
			for _, s := range seeds {
				if f.workload != "learned" {
					jobs = append(jobs, job{policy: p, seed: s, mode: m})
				}
				if f.workload != "trace" {
					jobs = append(jobs, job{policy: p, seed: s, learned: true, mode: m})
				}
			}
		}
	}
	meta := traceMeta(commandLine(), desc, t, f.ratio, f.published)
	for _, l := range meta.Normalized {
		fmt.Fprintf(cmd.ErrOrStderr(), "gantry-sim: %s: repaired %s\n", desc, l)
	}
	opts := report.Options{OmitTiming: f.noTiming}

	bar := newBar(cmd.ErrOrStderr(), f.progress, len(jobs), f.experiment)
	results := make([]any, len(jobs))
	var firstErr error
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(f.parallel, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				r, err := runJob(ctx, f, t, jobs[i], bar)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s seed %d, mode %s: %w", jobs[i].policy, jobs[i].seed, jobs[i].mode, err)
				}
				results[i] = r
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	bar.finish()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeReport(f, meta, results, opts); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "report written to %s\n", filepath.Join(f.out, "report.md"))
	return nil
}

// setupAutoscale loads --autoscaler-config, when given, into f.autoscale.
func setupAutoscale(f *runFlags, t trace.Trace) error {
	if f.autoscalerConfig == "" {
		return nil
	}
	data, err := os.ReadFile(f.autoscalerConfig)
	if err != nil {
		return fmt.Errorf("--autoscaler-config: %w", err)
	}
	c, err := asv1alpha1.Load(data)
	if err != nil {
		return fmt.Errorf("--autoscaler-config %s: %w", f.autoscalerConfig, err)
	}
	if f.keepNodes < 0 || f.keepNodes > len(t.Nodes) {
		return fmt.Errorf("--keep-nodes: %d is not between 0 and the trace's %d nodes", f.keepNodes, len(t.Nodes))
	}
	if f.bootDelay < 0 {
		return errors.New("--boot-delay must not be negative")
	}
	st := t
	st.Nodes = t.Nodes[:f.keepNodes]
	f.autoscale = &autoscaleSetup{cfg: c, static: st}
	return nil
}

// writeReport writes the experiment's report of results (one per job, in
// job order, as runJob returns them) into f.out.
func writeReport(f *runFlags, meta report.Meta, results []any, opts report.Options) error {
	switch f.experiment {
	case "inflation":
		rs := make([]*engine.InflationResult, len(results))
		for i, r := range results {
			rs[i] = r.(*engine.InflationResult)
		}
		return report.WriteInflation(f.out, meta, rs, opts)
	case "replay":
		if f.autoscale != nil {
			rs := make([]report.AutoscaleRun, len(results))
			for i, r := range results {
				rs[i] = r.(report.AutoscaleRun)
			}
			return report.WriteReplayAutoscale(f.out, meta, autoscaleMeta(f), rs, opts)
		}
		rs := make([]*engine.ReplayResult, len(results))
		for i, r := range results {
			rs[i] = r.(*engine.ReplayResult)
		}
		return report.WriteReplay(f.out, meta, rs, opts)
	case "sharing-gain":
		rs := make([]*engine.SharingResult, len(results))
		for i, r := range results {
			rs[i] = r.(*engine.SharingResult)
		}
		return report.WriteSharing(f.out, meta, rs, opts)
	}
	return fmt.Errorf("unknown experiment %q", f.experiment)
}

// traceMeta describes the run's input for the report.
func traceMeta(command, desc string, t trace.Trace, ratio float64, published string) report.Meta {
	gpus := 0
	for _, n := range t.Nodes {
		gpus += n.GPUs
	}
	return report.Meta{Command: command, Trace: desc, Nodes: len(t.Nodes), GPUs: gpus, Pods: len(t.Pods), Ratio: ratio,
		Variant: published, Normalized: t.Normalized.Lines()}
}

func runJob(ctx context.Context, f *runFlags, t trace.Trace, j job, bar *bar) (any, error) {
	switch f.experiment {
	case "replay":
		if f.autoscale != nil {
			base, err := engine.RunReplay(ctx, engine.ReplayConfig{Trace: t, Policy: j.policy, Seed: j.seed})
			if err != nil {
				return nil, err
			}
			a, err := engine.RunReplay(ctx, engine.ReplayConfig{Trace: f.autoscale.static, Policy: j.policy, Seed: j.seed, Progress: bar.tracker(),
				Autoscale: &engine.AutoscaleConfig{Config: f.autoscale.cfg, BootDelay: f.bootDelay}})
			if err != nil {
				return nil, err
			}
			return report.AutoscaleRun{Autoscaled: a, Baseline: base}, nil
		}
		return engine.RunReplay(ctx, engine.ReplayConfig{Trace: t, Policy: j.policy, Seed: j.seed, LearnedWorkload: j.learned, Mode: j.mode, Progress: bar.tracker()})
	case "sharing-gain":
		r, err := engine.RunSharingGain(ctx, engine.SharingConfig{Trace: t, Policy: j.policy, Seed: j.seed})
		bar.jobDone()
		return r, err
	default:
		return engine.RunInflation(ctx, engine.Config{Trace: t, Policy: j.policy, Seed: j.seed, Ratio: f.ratio, LearnedWorkload: j.learned, Mode: j.mode, Profile: f.profile, Progress: bar.tracker()})
	}
}

func autoscaleMeta(f *runFlags) report.AutoscaleMeta {
	m := report.AutoscaleMeta{ConfigFile: filepath.ToSlash(f.autoscalerConfig), BootDelay: f.bootDelay.String(), StaticNodes: f.keepNodes}
	for _, g := range f.autoscale.cfg.AllGroups() {
		d := g.Template.Device
		kind := "virtual/burst, no boot delay, "
		if !g.Burst {
			kind = ""
		}
		m.Groups = append(m.Groups, fmt.Sprintf("%s: %dx %s, %s CPU, %s memory, %s%s/h, min %d, max %d",
			g.Name, d.Count, d.Model, g.Template.CPU.String(), g.Template.Memory.String(), kind, strconv.FormatFloat(g.PricePerHour, 'f', -1, 64), g.MinSize, g.MaxSize))
	}
	return m
}

func commandLine() string {
	args := append([]string{"gantry-sim"}, os.Args[1:]...)
	return strings.Join(args, " ")
}

// bar is a progress bar over all runs, in percent of each run's pods (so
// runs of different sizes weigh the same), or nothing.
type bar struct {
	pb *progressbar.ProgressBar
}

func newBar(w io.Writer, mode string, jobs int, experiment string) *bar {
	show := mode == "always"
	if mode == "auto" {
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				show = true
			}
		}
	}
	if !show {
		return &bar{}
	}
	return &bar{pb: progressbar.NewOptions(jobs*100,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(fmt.Sprintf("%s: %d runs", experiment, jobs)),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionFullWidth(),
		progressbar.OptionThrottle(200_000_000),
	)}
}

// tracker returns a Progress callback for one run.
func (b *bar) tracker() func(done, total int) {
	if b.pb == nil {
		return nil
	}
	last := 0
	return func(done, total int) {
		p := done * 100 / total
		if p > last {
			_ = b.pb.Add(p - last)
			last = p
		}
	}
}

func (b *bar) jobDone() {
	if b.pb != nil {
		_ = b.pb.Add(100)
	}
}

func (b *bar) finish() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}
