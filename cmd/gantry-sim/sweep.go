package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	asv1alpha1 "github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/internal/version"
	"github.com/gantry-dev/gantry/simulator/engine"
	"github.com/gantry-dev/gantry/simulator/report"
	"github.com/gantry-dev/gantry/simulator/sweep"
)

func readGrid(path string) (*sweep.Grid, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--grid: %w", err)
	}
	g, err := sweep.Load(data)
	if err != nil {
		return nil, fmt.Errorf("--grid %s: %w", path, err)
	}
	return g, nil
}

func newSweepCommand() *cobra.Command {
	var (
		grid string
		o    = sweep.JobOptions{}
		out  string
	)
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Write an Indexed Job that runs every cell (trace x policy x seed) of a grid, one per index",
		Long: `Write a ConfigMap holding the grid and an Indexed Job: index i runs "gantry-sim cell" for cell i of
the grid (for each trace, each policy, each seed) and writes its result to --results-dir on the
volume --claim mounts at /data, where the grid's traceDir must be too. The grid's experiment is
inflation (the default), replay (with autoscaler: the real gantry-autoscaler loop; its
configuration file rides in the ConfigMap) or sharing-gain. When the Job completes,
"gantry-sim merge" turns the results into the report a single "gantry-sim run" writes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g, err := readGrid(grid)
			if err != nil {
				return err
			}
			if a := g.Autoscaler; a != nil {
				if o.AutoscalerConfig, err = readAutoscalerConfig(a.Config); err != nil {
					return fmt.Errorf("--grid %s: autoscaler.config: %w", grid, err)
				}
			}
			cm, job, err := sweep.Job(g, o)
			if err != nil {
				return err
			}
			data, err := sweep.Manifest(cm, job)
			if err != nil {
				return err
			}
			if out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Indexed Job %s/%s with %d cells written to %s\n", o.Namespace, o.Name, len(g.Cells()), out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&grid, "grid", "", "the grid (gantry.dev/v1alpha1 Sweep)")
	fl.StringVar(&o.Name, "name", "gantry-sim-sweep", "name of the Job (and of its ConfigMap, with -grid)")
	fl.StringVar(&o.Namespace, "namespace", "default", "namespace of the Job")
	fl.StringVar(&o.Image, "image", "ghcr.io/gantry-dev/gantry-sim:"+version.Get().Version, "gantry-sim image (make images builds it)")
	fl.StringVar(&o.Claim, "claim", "gantry-sim-data", "PersistentVolumeClaim mounted at /data, holding the traces and the results")
	fl.StringVar(&o.ResultsDir, "results-dir", "results", "folder under /data the cells write to")
	fl.Int32Var(&o.Parallelism, "parallelism", 10, "cells running at once")
	fl.StringVar(&out, "out", "-", "file the manifests are written to; - for stdout")
	_ = cmd.MarkFlagRequired("grid")
	return cmd
}

func newCellCommand() *cobra.Command {
	var (
		grid, results string
		index         int
	)
	cmd := &cobra.Command{
		Use:   "cell",
		Short: "Run one cell of a grid (what each index of the sweep's Job runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			klog.SetOutput(io.Discard)
			klog.LogToStderr(false)
			g, err := readGrid(grid)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("index") {
				v, ok := os.LookupEnv("JOB_COMPLETION_INDEX")
				if !ok {
					return errors.New("--index not given and JOB_COMPLETION_INDEX not set")
				}
				if index, err = strconv.Atoi(v); err != nil {
					return fmt.Errorf("JOB_COMPLETION_INDEX %q: %w", v, err)
				}
			}
			cells := g.Cells()
			if index < 0 || index >= len(cells) {
				return fmt.Errorf("cell index %d: the grid has cells 0..%d", index, len(cells)-1)
			}
			c := cells[index]
			f := gridFlags(g, c.Variant)
			t, _, err := loadTrace(f)
			if err != nil {
				return err
			}
			if err := setupAutoscale(f, t); err != nil {
				return err
			}
			// Exactly the job a single gantry-sim run runs for this
			// policy and seed.
			r, err := runJob(cmd.Context(), f, t, job{policy: c.Policy, seed: c.Seed}, &bar{})
			if err != nil {
				return fmt.Errorf("cell %d (%s %s, %s, seed %d): %w", c.Index, c.Experiment, c.Variant, c.Policy, c.Seed, err)
			}
			res, err := toResult(r)
			if err != nil {
				return err
			}
			if err := sweep.WriteCell(results, c, res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cell %d (%s %s, %s, seed %d) written to %s\n", c.Index, c.Experiment, c.Variant, c.Policy, c.Seed, sweep.CellPath(results, c.Index))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&grid, "grid", sweep.GridFile, "the grid (gantry.dev/v1alpha1 Sweep)")
	fl.StringVar(&results, "results", "results", "folder the cell's result is written to")
	fl.IntVar(&index, "index", 0, "the cell to run (default: $JOB_COMPLETION_INDEX, which an Indexed Job sets)")
	return cmd
}

func newMergeCommand() *cobra.Command {
	var (
		grid, results, out string
		noTiming           bool
	)
	cmd := &cobra.Command{
		Use:   "merge",
		Short: "Combine a sweep's cells into the report a single gantry-sim run writes, one folder per trace",
		Long: `Read every cell's result from --results and write, for each trace of the grid, into --out/<variant>
the report "gantry-sim run --experiment <the grid's experiment>" writes for that trace, policies and
seeds; the report records that equivalent command. Fails, naming the indexes, when cells are missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g, err := readGrid(grid)
			if err != nil {
				return err
			}
			byTrace, err := sweep.ReadResults(g, results)
			if err != nil {
				return err
			}
			for _, tr := range g.Traces {
				f := gridFlags(g, tr.Variant)
				t, desc, err := loadTrace(f)
				if err != nil {
					return err
				}
				if err := setupAutoscale(f, t); err != nil {
					return err
				}
				f.out = filepath.Join(out, tr.Variant)
				meta := traceMeta(equivalentRun(g, tr.Variant, f.out, noTiming), desc, t, f.ratio, f.published)
				rs := make([]any, len(byTrace[tr.Variant]))
				for i, r := range byTrace[tr.Variant] {
					rs[i] = fromResult(r)
				}
				if err := writeReport(f, meta, rs, report.Options{OmitTiming: noTiming}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "report written to %s\n", filepath.Join(f.out, "report.md"))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&grid, "grid", "", "the grid (gantry.dev/v1alpha1 Sweep)")
	fl.StringVar(&results, "results", "results", "folder the cells wrote to")
	fl.StringVar(&out, "out", "out/sweep", "folder the reports are written into, one subfolder per trace")
	fl.BoolVar(&noTiming, "no-timing", false, "leave wall times out of the report, so that the same inputs give byte-identical files")
	_ = cmd.MarkFlagRequired("grid")
	return cmd
}

// equivalentRun is the gantry-sim run command that writes the same report
// as merging the grid's cells of one trace.
func equivalentRun(g *sweep.Grid, variant, out string, noTiming bool) string {
	args := []string{"gantry-sim", "run", "--experiment", g.Experiment, "--trace-dir", g.TraceDir, "--variant", variant,
		"--policies", strings.Join(g.Policies, ","), "--seeds", g.Seeds}
	if g.Experiment == sweep.Inflation {
		args = append(args, "--ratio", strconv.FormatFloat(g.Ratio, 'f', -1, 64))
	}
	if a := g.Autoscaler; a != nil {
		args = append(args, "--autoscaler-config", a.Config, "--boot-delay", a.BootDelay.Duration.String(), "--keep-nodes", strconv.Itoa(a.KeepNodes))
	}
	if noTiming {
		args = append(args, "--no-timing")
	}
	return strings.Join(append(args, "--out", out), " ")
}

// gridFlags are the gantry-sim run flags of the grid's runs on one trace.
func gridFlags(g *sweep.Grid, variant string) *runFlags {
	f := &runFlags{traceDir: g.TraceDir, variant: variant, experiment: g.Experiment, ratio: g.Ratio, workload: "trace"}
	if f.ratio == 0 {
		f.ratio = sweep.DefaultRatio // as run's --ratio default, unused outside inflation
	}
	if a := g.Autoscaler; a != nil {
		f.autoscalerConfig, f.bootDelay, f.keepNodes = a.Config, a.BootDelay.Duration, a.KeepNodes
	}
	return f
}

// readAutoscalerConfig reads and checks an AutoscalerConfiguration file.
func readAutoscalerConfig(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := asv1alpha1.Load(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// toResult stores what runJob returned for a cell.
func toResult(r any) (sweep.Result, error) {
	switch v := r.(type) {
	case *engine.InflationResult:
		return sweep.Result{Inflation: v}, nil
	case *engine.ReplayResult:
		return sweep.Result{Replay: v}, nil
	case report.AutoscaleRun:
		return sweep.Result{Replay: v.Autoscaled, Baseline: v.Baseline}, nil
	case *engine.SharingResult:
		return sweep.Result{Sharing: v}, nil
	}
	return sweep.Result{}, fmt.Errorf("a cell cannot store a %T", r)
}

// fromResult is toResult's inverse: what runJob returned.
func fromResult(r sweep.Result) any {
	switch {
	case r.Inflation != nil:
		return r.Inflation
	case r.Baseline != nil:
		return report.AutoscaleRun{Autoscaled: r.Replay, Baseline: r.Baseline}
	case r.Replay != nil:
		return r.Replay
	default:
		return r.Sharing
	}
}
