package dra

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	resourceapi "k8s.io/api/resource/v1"

	"github.com/gantry-dev/gantry/core/dra/dratest"
)

type staticSlices []*resourceapi.ResourceSlice

func (s staticSlices) ListWithDeviceTaintRules() ([]*resourceapi.ResourceSlice, error) { return s, nil }

func names(s *resourceapi.ResourceSlice) []string {
	var out []string
	for _, d := range s.Spec.Devices {
		out = append(out, d.Name)
	}
	return out
}

func TestOrderedSlices(t *testing.T) {
	a := dratest.MakeSlice("a").GPUs("A100", 4, 1024).Obj()
	b := dratest.MakeSlice("b").GPUs("A100", 2, 1024).Obj()
	other := dratest.MakeSlice("a").Name("nic").GPUs("A100", 3, 1024).Obj()
	other.Spec.Driver = "nic.example.com"
	base := staticSlices{a, other, b}
	tests := []struct {
		name  string
		order map[string][]string
		want  [][]string
	}{
		{"no order: as listed", nil, [][]string{{"gpu-0", "gpu-1", "gpu-2", "gpu-3"}, {"gpu-0", "gpu-1", "gpu-2"}, {"gpu-0", "gpu-1"}}},
		{
			"ranked devices first, the rest as listed; other drivers and unranked nodes untouched",
			map[string][]string{"a": {"gpu-2", "gpu-0", "gpu-9"}},
			[][]string{{"gpu-2", "gpu-0", "gpu-1", "gpu-3"}, {"gpu-0", "gpu-1", "gpu-2"}, {"gpu-0", "gpu-1"}},
		},
		{
			"every node its own order",
			map[string][]string{"a": {"gpu-3", "gpu-2", "gpu-1", "gpu-0"}, "b": {"gpu-1", "gpu-0"}},
			[][]string{{"gpu-3", "gpu-2", "gpu-1", "gpu-0"}, {"gpu-0", "gpu-1", "gpu-2"}, {"gpu-1", "gpu-0"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &orderedSlices{base: base}
			o.set(tc.order)
			got, err := o.ListWithDeviceTaintRules()
			require.NoError(t, err)
			var gotNames [][]string
			for _, s := range got {
				gotNames = append(gotNames, names(s))
			}
			if diff := cmp.Diff(tc.want, gotNames); diff != "" {
				t.Errorf("device order (-want +got):\n%s", diff)
			}
			// The informer's objects are never changed.
			require.Equal(t, []string{"gpu-0", "gpu-1", "gpu-2", "gpu-3"}, names(a))
			require.Equal(t, []string{"gpu-0", "gpu-1"}, names(b))
		})
	}
}
