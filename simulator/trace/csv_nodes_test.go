package trace

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

const nodeHeader = "sn,cpu_milli,memory_mib,gpu,model\n"

func TestReadNodesRejectsMalformedInput(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{name: "empty input", input: "", want: `nodes.csv: empty input, want a header line`},
		{name: "only a header", input: nodeHeader, want: `nodes.csv:1: no data rows after the header`},
		{
			name:  "missing model column",
			input: "sn,cpu_milli,memory_mib,gpu\nn,1,1,0\n",
			want:  `nodes.csv:1: column "model": missing required column`,
		},
		{
			name:  "duplicate header column",
			input: "sn,cpu_milli,memory_mib,gpu,model,gpu\nn,1,1,0,,0\n",
			want:  `nodes.csv:1: column "gpu": duplicate header column (fields 4 and 6)`,
		},
		{
			name:  "GPUs without a model",
			input: nodeHeader + "n,64000,262144,2,\n",
			want:  `nodes.csv:2: column "model": must name the GPU model of a node with 2 GPUs`,
		},
		{
			name:  "a model without GPUs",
			input: nodeHeader + "n,64000,262144,0,T4\n",
			want:  `nodes.csv:2: column "model": "T4" given for a node without GPUs`,
		},
		{
			name:  "negative GPU count",
			input: nodeHeader + "n,64000,262144,-2,T4\n",
			want:  `nodes.csv:2: column "gpu": must not be negative, got -2`,
		},
		{
			name:  "more GPUs than a node may hold",
			input: nodeHeader + "n,64000,262144,2147483647,T4\n",
			want:  `nodes.csv:2: column "gpu": 2147483647 is out of range 0..1024`,
		},
		{
			name:  "memory whose size in bytes overflows",
			input: nodeHeader + "n,64000,9223372036854775807,2,T4\n",
			want:  `nodes.csv:2: column "memory_mib": 9223372036854775807 is out of range 0..8796093022207 (its size in bytes must fit an int64)`,
		},
		{
			name:  "model that is not a valid model name",
			input: nodeHeader + "n,64000,262144,2,-T4\n",
			want:  `nodes.csv:2: column "model": "-T4" is not a valid GPU model (1..63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit)`,
		},
		{
			name:  "negative cpu",
			input: nodeHeader + "n,-64000,262144,2,T4\n",
			want:  `nodes.csv:2: column "cpu_milli": must not be negative, got -64000`,
		},
		{
			name:  "not an integer",
			input: nodeHeader + "n,64000,lots,2,T4\n",
			want:  `nodes.csv:2: column "memory_mib": invalid integer "lots"`,
		},
		{
			name:  "duplicate name",
			input: nodeHeader + "n,64000,262144,2,T4\nn,64000,262144,2,T4\n",
			want:  `nodes.csv:3: column "sn": duplicate name "n", first on line 2`,
		},
		{
			name:  "empty name",
			input: nodeHeader + ",64000,262144,2,T4\n",
			want:  `nodes.csv:2: column "sn": must not be empty`,
		},
		{
			name:  "too many fields",
			input: nodeHeader + "n,64000,262144,2,T4,extra\n",
			want:  `nodes.csv:2: row has 6 fields, the header has 5`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := ReadNodes(strings.NewReader(tt.input), "nodes.csv")
			require.Error(t, err)
			require.Nil(t, nodes)
			require.Equal(t, tt.want, err.Error())
			var perr *ParseError
			require.True(t, errors.As(err, &perr))
		})
	}
}

func TestReadNodesAcceptsAnyColumnOrder(t *testing.T) {
	input := "model,gpu,sn,memory_mib,cpu_milli,rack\nV100M16,8,a,262144,96000,r1\n,0,b,1024,32000,r2\n"
	got, err := ReadNodes(strings.NewReader(input), "nodes.csv")
	require.NoError(t, err)
	want := []Node{
		{Name: "a", CPUMilli: 96000, MemoryMiB: 262144, GPUs: 8, Model: "V100M16"},
		{Name: "b", CPUMilli: 32000, MemoryMiB: 1024},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("nodes (-want,+got):\n%s", diff)
	}
}

func TestReadIOErrorIsWrapped(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := ReadNodes(failingReader{err: boom}, "nodes.csv")
	require.ErrorIs(t, err, boom)
	require.Equal(t, "read nodes.csv: disk on fire", err.Error())
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }
