package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/state"
)

func TestResidues(t *testing.T) {
	// Half a GPU (weight 0.5), 30 % (0.3) and a whole GPU (0.2).
	w := Workload{
		{CPUMilli: 1000, Count: 1, Units: 50, Weight: 0.5},
		{CPUMilli: 1000, Count: 1, Units: 30, Weight: 0.3},
		{CPUMilli: 1000, Count: 1, Units: 100, Weight: 0.2},
	}
	tab := residues(w, residueKey{kind: device.GPU})
	got := map[int]float64{}
	for _, r := range []int{0, 20, 29, 30, 40, 50, 60, 70, 100} {
		got[r] = tab[r]
	}
	want := map[int]float64{
		0:  0,
		20: 20, // nothing fits: all of it stays
		29: 29,
		30: 0,  // the 30 % share fills it exactly
		40: 10, // only the 30 % fits, 10 stay
		// 50 % or 30 %: (0.5·res(0) + 0.3·res(20)) / 0.8 = 6 / 0.8
		50: 7.5,
		// (0.5·res(10) + 0.3·res(30)) / 0.8 = 5 / 0.8
		60: 6.25,
		// (0.5·res(20) + 0.3·res(40)) / 0.8 = 13 / 0.8
		70: 16.25,
		// 0.5·res(50) + 0.3·res(70) + 0.2·res(0)
		100: 0.5*7.5 + 0.3*16.25,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })); diff != "" {
		t.Fatalf("residues (-want,+got):\n%s", diff)
	}
	for r := 0; r <= device.UnitsPerDevice; r++ {
		require.LessOrEqual(t, tab[r], float64(r), "a residue can never exceed what is free")
	}
}

func TestResiduesPerModel(t *testing.T) {
	// A share only V100M32 devices may take fills them, not the others.
	w := Workload{
		{Count: 1, Units: 50, Models: []string{"V100M32"}, Weight: 0.5},
		{Count: 1, Units: 30, Weight: 0.5},
	}
	s, err := New(LookaheadFGD, Options{Workload: w})
	require.NoError(t, err)
	l := s.(lookaheadFGD)
	n := &state.NodeState{Devices: []state.Dev{
		{Device: device.Device{Kind: device.GPU, Model: "V100M32"}},
		{Device: device.Device{Kind: device.GPU, Model: "T4"}},
		{Device: device.Device{Kind: device.NPU, Model: "Ascend910B"}},
	}}
	r := residue(l.tables(n))
	got := map[string]float64{"V100M32": r(0, 50), "T4": r(1, 50)}
	// V100M32: (0.5·res(0) + 0.5·res(20)) / 1 = 10; T4: only 30 %, 20 stay.
	if diff := cmp.Diff(map[string]float64{"V100M32": 10, "T4": 20}, got); diff != "" {
		t.Fatalf("residue of 50 free units (-want,+got):\n%s", diff)
	}
	// A kind no shape asks for keeps everything.
	require.Equal(t, float64(40), r(2, 40))
}
