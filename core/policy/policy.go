package policy

import (
	"fmt"
	"sort"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// MaxScore is the top of the normalised score range, as kube-scheduler's.
const MaxScore = 100

// Type names a strategy in configuration.
type Type string

const (
	Binpack       Type = "Binpack"
	Spread        Type = "Spread"
	FGD           Type = "FGD"
	BestFit       Type = "BestFit"
	DotProduct    Type = "DotProduct"
	GPUPacking    Type = "GPUPacking"
	GPUClustering Type = "GPUClustering"
	Random        Type = "Random"
	// LookaheadFGD is Gantry's own policy (lookahead.go): FGD over a
	// fragment measure that counts a remainder by what the workload's
	// shares are expected to leave of it.
	LookaheadFGD Type = "LookaheadFGD"
)

// Normalization says how raw scores become 0..MaxScore across nodes.
type Normalization int

const (
	// Clamp: raw scores are already 0..MaxScore.
	Clamp Normalization = iota
	// MinMax: the lowest raw score among feasible nodes maps to 0, the
	// highest to MaxScore.
	MinMax
	// Pick: the node with the highest raw score gets MaxScore and every
	// other node 0 (the first of equal highest ones wins), so exactly one
	// node is chosen; raw scores may span all of int64.
	Pick
)

// Strategy scores a node for a request and picks the devices it would take.
type Strategy interface {
	// Score returns the allocation req would get on n and the raw score of
	// putting it there; ok is false when req does not fit. Score must not
	// change n and must be safe to call concurrently on different nodes.
	Score(n *state.NodeState, req *share.Request) (alloc contract.Allocation, score int64, ok bool)
	// Normalization says how to map raw scores onto 0..MaxScore.
	Normalization() Normalization
}

// Options are what strategies may need besides the node and the request.
type Options struct {
	// Workload is the distribution of request shapes FGD measures
	// fragmentation against.
	Workload Workload
	// Seed makes Random reproducible.
	Seed int64
}

// constructors is the strategy table: configuration maps a Type to one row.
var constructors = map[Type]func(Options) (Strategy, error){
	Binpack:       func(Options) (Strategy, error) { return binpack{}, nil },
	Spread:        func(Options) (Strategy, error) { return spread{}, nil },
	FGD:           newFGD,
	BestFit:       func(Options) (Strategy, error) { return bestFit{}, nil },
	DotProduct:    func(Options) (Strategy, error) { return dotProduct{}, nil },
	GPUPacking:    func(Options) (Strategy, error) { return gpuPacking{}, nil },
	GPUClustering: func(Options) (Strategy, error) { return gpuClustering{}, nil },
	Random:        func(o Options) (Strategy, error) { return random{seed: o.Seed}, nil },
	LookaheadFGD:  newLookaheadFGD,
}

// New returns the strategy of type t.
func New(t Type, o Options) (Strategy, error) {
	c, ok := constructors[t]
	if !ok {
		return nil, fmt.Errorf("unknown policy %q (known: %v)", t, Types())
	}
	return c(o)
}

// Types lists every known strategy type, sorted.
func Types() []Type {
	out := make([]Type, 0, len(constructors))
	for t := range constructors {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// NeedsWorkload reports whether t measures against a workload distribution.
func NeedsWorkload(t Type) bool { return t == FGD || t == LookaheadFGD }

// Normalize maps raw scores in place onto 0..MaxScore as s asks.
func Normalize(s Strategy, scores []int64) {
	switch s.Normalization() {
	case Pick:
		best := -1
		for i, v := range scores {
			if best < 0 || v > scores[best] {
				best = i
			}
		}
		for i := range scores {
			scores[i] = 0
		}
		if best >= 0 {
			scores[best] = MaxScore
		}
	case MinMax:
		if len(scores) == 0 {
			return
		}
		lo, hi := scores[0], scores[0]
		for _, v := range scores {
			lo, hi = min(lo, v), max(hi, v)
		}
		for i, v := range scores {
			if hi == lo {
				scores[i] = MaxScore
			} else {
				scores[i] = (v - lo) * MaxScore / (hi - lo)
			}
		}
	default:
		for i, v := range scores {
			scores[i] = min(max(v, 0), MaxScore)
		}
	}
}

// DependsOnPod reports whether t's choice depends on which pod asks, not
// only on what it asks for (Random hashes the pod's name).
func DependsOnPod(t Type) bool { return t == Random }
