package sweep

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gantry-dev/gantry/core/policy"
)

const (
	// APIVersion and Kind name a Grid file.
	APIVersion = "gantry.dev/v1alpha1"
	Kind       = "Sweep"
	// MaxCells bounds a grid (an Indexed Job allows 100000 completions).
	MaxCells = 100000
)

// The experiments a grid can run: those of gantry-sim run --experiment.
const (
	Inflation   = "inflation"
	Replay      = "replay"
	SharingGain = "sharing-gain"
)

// Experiments lists every experiment a grid can run.
var Experiments = []string{Inflation, Replay, SharingGain}

// Defaults of the fields a single gantry-sim run defaults the same way.
const (
	DefaultRatio     = 1.3
	DefaultBootDelay = 2 * time.Minute
)

// Grid is the set of runs of a sweep.
type Grid struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Experiment is what every cell runs: inflation (the default), replay
	// or sharing-gain, as gantry-sim run --experiment.
	Experiment string `json:"experiment,omitempty"`
	// Ratio is the inflation target (arrived GPU demand over capacity);
	// inflation only, default 1.3.
	Ratio float64 `json:"ratio,omitempty"`
	// TraceDir holds the Alibaba openb CSVs; Traces name variants in it.
	TraceDir string   `json:"traceDir"`
	Traces   []Trace  `json:"traces"`
	Policies []string `json:"policies"`
	// Seeds is "42", "42,43" or "42-51".
	Seeds string `json:"seeds"`
	// Autoscaler, for a replay, runs the real gantry-autoscaler loop on
	// virtual time (gantry-sim run --autoscaler-config).
	Autoscaler *Autoscaler `json:"autoscaler,omitempty"`
}

// Autoscaler is the autoscaler of a replay grid: the flags of gantry-sim
// run that go with --autoscaler-config.
type Autoscaler struct {
	// Config is the AutoscalerConfiguration file. gantry-sim sweep copies
	// it into the Job's ConfigMap and points the cells' grid at the copy;
	// merge reads it from this path.
	Config string `json:"config"`
	// BootDelay is how long a requested node takes to register; default 2m.
	BootDelay *metav1.Duration `json:"bootDelay,omitempty"`
	// KeepNodes is how many of the trace's nodes (the first ones) stay as
	// static, unmanaged nodes.
	KeepNodes int `json:"keepNodes,omitempty"`
}

// Trace is one trace of the grid: a pod-list variant of TraceDir
// (openb_pod_list_<variant>.csv on the trace's GPU node list).
type Trace struct {
	Variant string `json:"variant"`
}

// Cell is one run of the grid.
type Cell struct {
	Index      int
	Variant    string
	Policy     policy.Type
	Seed       int64
	Experiment string
}

var variantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Load decodes a grid strictly (unknown or duplicate fields are errors),
// defaults it as gantry-sim run defaults its flags (experiment inflation,
// ratio 1.3 for inflation, boot delay 2m) and validates it.
func Load(data []byte) (*Grid, error) {
	g := &Grid{}
	if err := sigsyaml.UnmarshalStrict(data, g); err != nil {
		return nil, fmt.Errorf("decoding the sweep grid: %w", err)
	}
	if g.Experiment == "" {
		g.Experiment = Inflation
	}
	if g.Ratio == 0 && g.Experiment == Inflation {
		g.Ratio = DefaultRatio
	}
	if a := g.Autoscaler; a != nil && a.BootDelay == nil {
		a.BootDelay = &metav1.Duration{Duration: DefaultBootDelay}
	}
	if errs := g.validate(); len(errs) > 0 {
		return nil, fmt.Errorf("invalid sweep grid: %w", errs.ToAggregate())
	}
	return g, nil
}

func (g *Grid) validate() field.ErrorList {
	var errs field.ErrorList
	if g.APIVersion != APIVersion {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), g.APIVersion, "want "+APIVersion))
	}
	if g.Kind != Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), g.Kind, "want "+Kind))
	}
	switch g.Experiment {
	case Inflation:
		if !(g.Ratio > 0 && g.Ratio <= 10) {
			errs = append(errs, field.Invalid(field.NewPath("ratio"), g.Ratio, "must be above 0 and at most 10"))
		}
	case Replay, SharingGain:
		if g.Ratio != 0 {
			errs = append(errs, field.Forbidden(field.NewPath("ratio"), "only for experiment "+Inflation))
		}
	default:
		errs = append(errs, field.NotSupported(field.NewPath("experiment"), g.Experiment, Experiments))
	}
	if a := g.Autoscaler; a != nil {
		ap := field.NewPath("autoscaler")
		if g.Experiment != Replay {
			errs = append(errs, field.Forbidden(ap, "only for experiment "+Replay))
		}
		if a.Config == "" {
			errs = append(errs, field.Required(ap.Child("config"), "an AutoscalerConfiguration file (gantry.dev/v1alpha1)"))
		}
		if a.BootDelay.Duration < 0 {
			errs = append(errs, field.Invalid(ap.Child("bootDelay"), a.BootDelay.Duration.String(), "must not be negative"))
		}
		if a.KeepNodes < 0 {
			errs = append(errs, field.Invalid(ap.Child("keepNodes"), a.KeepNodes, "must not be negative"))
		}
	}
	if g.TraceDir == "" {
		errs = append(errs, field.Required(field.NewPath("traceDir"), "the folder with the openb CSVs, as the cells see it"))
	}
	tp := field.NewPath("traces")
	if len(g.Traces) == 0 {
		errs = append(errs, field.Required(tp, "at least one trace"))
	}
	seen := map[string]bool{}
	for i, t := range g.Traces {
		p := tp.Index(i).Child("variant")
		switch {
		case !variantPattern.MatchString(t.Variant):
			errs = append(errs, field.Invalid(p, t.Variant, "must be a pod-list variant such as default or gpushare40 (lower case letters, digits, - and _)"))
		case seen[t.Variant]:
			errs = append(errs, field.Duplicate(p, t.Variant))
		}
		seen[t.Variant] = true
	}
	pp := field.NewPath("policies")
	if len(g.Policies) == 0 {
		errs = append(errs, field.Required(pp, "at least one policy"))
	}
	known := map[policy.Type]bool{}
	var names []string
	for _, t := range policy.Types() {
		known[t] = true
		names = append(names, string(t))
	}
	dup := map[string]bool{}
	for i, p := range g.Policies {
		switch {
		case !known[policy.Type(p)]:
			errs = append(errs, field.NotSupported(pp.Index(i), p, names))
		case dup[p]:
			errs = append(errs, field.Duplicate(pp.Index(i), p))
		}
		dup[p] = true
	}
	seeds, err := ParseSeeds(g.Seeds)
	if err != nil {
		errs = append(errs, field.Invalid(field.NewPath("seeds"), g.Seeds, err.Error()))
	}
	if n := len(g.Traces) * len(g.Policies) * len(seeds); n > MaxCells {
		errs = append(errs, field.TooMany(field.NewPath("traces"), n, MaxCells))
	}
	return errs
}

// ParseSeeds reads "42", "42,43" or "42-51" (a range of at most 10001).
func ParseSeeds(v string) ([]int64, error) {
	var out []int64
	seen := map[int64]bool{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi := part, part
		if i := strings.Index(part[1:], "-"); i >= 0 {
			lo, hi = part[:i+1], part[i+2:]
		}
		a, err1 := strconv.ParseInt(lo, 10, 64)
		b, err2 := strconv.ParseInt(hi, 10, 64)
		if err1 != nil || err2 != nil || b < a || b-a > 10000 {
			return nil, fmt.Errorf("%q is not a seed or a range of seeds such as 42-51", part)
		}
		for s := a; ; s++ {
			if seen[s] {
				return nil, fmt.Errorf("seed %d appears twice", s)
			}
			seen[s] = true
			out = append(out, s)
			if s == b {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no seed given")
	}
	return out, nil
}

// Cells lists the grid's runs, numbered from 0: for each trace, for each
// policy, for each seed (the order of a single run's results).
func (g *Grid) Cells() []Cell {
	seeds, _ := ParseSeeds(g.Seeds) // validated by Load
	var out []Cell
	for _, t := range g.Traces {
		for _, p := range g.Policies {
			for _, s := range seeds {
				out = append(out, Cell{Index: len(out), Variant: t.Variant, Policy: policy.Type(p), Seed: s, Experiment: g.Experiment})
			}
		}
	}
	return out
}
