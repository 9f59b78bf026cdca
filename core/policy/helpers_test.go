package policy_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
	"github.com/gantry-dev/gantry/core/state"
)

// gpuNode returns a node of len(used) T4 GPUs where GPU i has used[i]
// percent taken, each by its own pod.
func gpuNode(name string, used ...int) *state.NodeState {
	n := coretest.MakeNode(name).GPUs("T4", len(used), 15360).State()
	for i, u := range used {
		if u > 0 {
			coretest.Hold(n, fmt.Sprintf("default/%s-%d", name, i), u, i)
		}
	}
	return n
}

// gpus asks for count GPUs of units each, with cpuMilli of host CPU.
func gpus(count, units int, cpuMilli int64) *share.Request {
	r := share.Simple(device.GPU, count, units)
	r.Pod, r.CPUMilli = "default/p", cpuMilli
	return r
}

func cpuOnly(cpuMilli int64) *share.Request {
	return &share.Request{Pod: "default/p", CPUMilli: cpuMilli}
}

func mustNew(t testing.TB, typ policy.Type, o policy.Options) policy.Strategy {
	t.Helper()
	s, err := policy.New(typ, o)
	require.NoError(t, err)
	return s
}

// indices returns the device indices an allocation takes, per container.
func indices(a contract.Allocation) [][]int {
	var out [][]int
	for _, c := range a.Containers {
		var idx []int
		for _, d := range c.Devices {
			idx = append(idx, d.Index)
		}
		out = append(out, idx)
	}
	return out
}

type scoreCase struct {
	name      string
	node      *state.NodeState
	req       *share.Request
	wantScore int64
	wantDevs  [][]int
}

func runScoreCases(t *testing.T, s policy.Strategy, tests []scoreCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alloc, score, ok := s.Score(tt.node, tt.req)
			require.True(t, ok)
			require.Equal(t, tt.wantScore, score)
			require.Equal(t, tt.wantDevs, indices(alloc))
		})
	}
}
