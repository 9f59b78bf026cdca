package policy_test

import (
	"testing"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// traceLikeWorkload returns 35 shapes, as the FGD paper's 95 % cut of the
// default trace keeps: CPU-only tasks, shares of many sizes, 1-8 whole
// GPUs, some bound to a model, with Zipf-like weights.
func traceLikeWorkload() policy.Workload {
	var w policy.Workload
	shareUnits := []int{5, 10, 12, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90, 95}
	for i := 0; len(w) < 35; i++ {
		s := policy.Shape{CPUMilli: int64(1000 * (1 + i%16)), Weight: 1 / float64(i+1)}
		switch i % 5 {
		case 0:
		case 1, 2, 3:
			s.Count, s.Units = 1, shareUnits[i%len(shareUnits)]
		case 4:
			s.Count, s.Units = []int{1, 2, 4, 8}[i/5%4], device.UnitsPerDevice
		}
		if i%7 == 6 && s.Count > 0 {
			s.Models = []string{"V100M16", "V100M32"}
		}
		w = append(w, s)
	}
	return w
}

// halfUsedNode is 8 GPUs with 400 of 800 units taken: two full, two at 50,
// one at 70, one at 30, two free.
func halfUsedNode() *state.NodeState {
	return gpuNode("bench", 100, 100, 50, 50, 70, 30, 0, 0).WithHost(96000, 48000, 1<<19)
}

func BenchmarkScore(b *testing.B) {
	w := traceLikeWorkload()
	if len(w) != 35 {
		b.Fatalf("workload has %d shapes", len(w))
	}
	requests := map[string]*share.Request{
		"share": gpus(1, 25, 4000),
		"2gpus": gpus(2, 100, 8000),
	}
	for _, typ := range policy.Types() {
		s, err := policy.New(typ, policy.Options{Workload: w, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"share", "2gpus"} {
			req := requests[name]
			b.Run(string(typ)+"/"+name, func(b *testing.B) {
				n := halfUsedNode()
				if _, _, ok := s.Score(n, req); !ok {
					b.Fatal("does not fit")
				}
				b.ReportAllocs()
				for b.Loop() {
					s.Score(n, req)
				}
			})
		}
	}
}

// BenchmarkFit covers the filter path, including a multi-container pod
// whose greedy placement fails and falls back to the exact search.
func BenchmarkFit(b *testing.B) {
	trap := gpuNode("trap", 0, 40) // free 100 and 60
	requests := map[string]struct {
		n   *state.NodeState
		req *share.Request
	}{
		"share":      {halfUsedNode(), gpus(1, 25, 0)},
		"no room":    {halfUsedNode(), gpus(1, 90, 0)},
		"multi-part": {halfUsedNode(), multi(60, 50, 40, 30)},
		"exact":      {trap, multi(60, 50, 50)},
	}
	for _, name := range []string{"share", "no room", "multi-part", "exact"} {
		c := requests[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				state.Fit(c.n, c.req)
			}
		})
	}
}

func multi(units ...int) *share.Request {
	r := &share.Request{Pod: "default/p"}
	for i, u := range units {
		r.Parts = append(r.Parts, share.Part{Container: string(rune('a' + i)), Kind: device.GPU, Count: 1, Units: u})
	}
	r.SortParts()
	return r
}
