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
volume --claim mounts at /data, where the grid's traceDir must be too. When the Job completes,
"gantry-sim merge" turns the results into the report a single "gantry-sim run" writes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g, err := readGrid(grid)
			if err != nil {
				return err
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
			t, _, err := loadTrace(&runFlags{traceDir: g.TraceDir, variant: c.Variant})
			if err != nil {
				return err
			}
			r, err := engine.RunInflation(cmd.Context(), engine.Config{Trace: t, Policy: c.Policy, Seed: c.Seed, Ratio: g.Ratio})
			if err != nil {
				return fmt.Errorf("cell %d (%s, %s, seed %d): %w", c.Index, c.Variant, c.Policy, c.Seed, err)
			}
			if err := sweep.WriteCell(results, c, r); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cell %d (%s, %s, seed %d) written to %s\n", c.Index, c.Variant, c.Policy, c.Seed, sweep.CellPath(results, c.Index))
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
the report "gantry-sim run --experiment inflation" writes for that trace, policies and seeds; the
report records that equivalent command. Fails, naming the indexes, when cells are missing.`,
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
				f := &runFlags{traceDir: g.TraceDir, variant: tr.Variant}
				t, desc, err := loadTrace(f)
				if err != nil {
					return err
				}
				dir := filepath.Join(out, tr.Variant)
				meta := traceMeta(equivalentRun(g, tr.Variant, dir, noTiming), desc, t, g.Ratio, f.published)
				if err := report.WriteInflation(dir, meta, byTrace[tr.Variant], report.Options{OmitTiming: noTiming}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "report written to %s\n", filepath.Join(dir, "report.md"))
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
	args := []string{"gantry-sim", "run", "--experiment", "inflation", "--trace-dir", g.TraceDir, "--variant", variant,
		"--policies", strings.Join(g.Policies, ","), "--seeds", g.Seeds, "--ratio", strconv.FormatFloat(g.Ratio, 'f', -1, 64)}
	if noTiming {
		args = append(args, "--no-timing")
	}
	return strings.Join(append(args, "--out", out), " ")
}
