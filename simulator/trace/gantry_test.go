package trace

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestLoadGantryExample(t *testing.T) {
	got, err := LoadGantry("testdata/gantry/example.yaml")
	require.NoError(t, err)
	ptr := func(v int64) *int64 { return &v }
	want := Trace{
		GPUModels: []string{"A100-80GB", "T4", "V100M32"},
		Nodes: []Node{
			{Name: "gpu-a100-0", CPUMilli: 96000, MemoryMiB: 786432, GPUs: 8, Model: "A100-80GB"},
			{Name: "gpu-t4-0", CPUMilli: 32000, MemoryMiB: 131072, GPUs: 2, Model: "T4"},
			{Name: "cpu-0", CPUMilli: 64000, MemoryMiB: 262144},
		},
		Pods: []Pod{
			{Name: "notebook-1", CPUMilli: 4000, MemoryMiB: 16384, NumGPU: 1, GPUMilli: 250, Creation: 0, Deletion: 3600, HasTimes: true},
			{Name: "train-1", CPUMilli: 16000, MemoryMiB: 65536, NumGPU: 2, GPUMilli: 1000, GPUSpec: []string{"V100M32", "A100-80GB"},
				QoS: "LS", Phase: "Running", Creation: 60, Deletion: 7260, Scheduled: ptr(90), HasTimes: true},
			{Name: "etl-1", CPUMilli: 8000, MemoryMiB: 32768},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("trace (-want,+got):\n%s", diff)
	}
}

const gantryHead = "apiVersion: gantry.dev/v1alpha1\nkind: Trace\n"

func TestReadGantryRejectsMalformedInput(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{name: "empty input", input: "", want: `t.yaml: empty input, want a Trace document`},
		{name: "only a comment", input: "# nothing\n", want: `t.yaml: empty input, want a Trace document`},
		{
			name:  "YAML syntax error",
			input: gantryHead + "nodes: [\n",
			want:  `t.yaml:3: malformed YAML: did not find expected node content`,
		},
		{
			name:  "two documents",
			input: gantryHead + "---\n" + gantryHead,
			want:  `t.yaml:3: a second YAML document; want exactly one`,
		},
		{name: "not a mapping", input: "- a\n", want: `t.yaml:1: want a mapping of fields, got a list`},
		{name: "missing apiVersion", input: "kind: Trace\n", want: `t.yaml: apiVersion: required, want "gantry.dev/v1alpha1"`},
		{
			name:  "unsupported apiVersion",
			input: "apiVersion: gantry.dev/v2\nkind: Trace\n",
			want:  `t.yaml:1: apiVersion: unsupported "gantry.dev/v2", want "gantry.dev/v1alpha1"`,
		},
		{
			name:  "wrong kind",
			input: "apiVersion: gantry.dev/v1alpha1\nkind: Pod\n",
			want:  `t.yaml:2: kind: unsupported "Pod", want "Trace"`,
		},
		{
			name:  "unknown top-level field",
			input: gantryHead + "node: []\n",
			want:  `t.yaml:3: node: unknown field`,
		},
		{
			name:  "unknown pod field, with its path",
			input: gantryHead + "pods:\n- name: a\n  cpuMilli: 1\n- name: b\n  gpuMili: 500\n",
			want:  `t.yaml:7: pods[1].gpuMili: unknown field`,
		},
		{
			name:  "field names are case-sensitive",
			input: gantryHead + "nodes:\n- {name: n, CPUMilli: 1}\n",
			want:  `t.yaml:4: nodes[0].CPUMilli: unknown field`,
		},
		{
			name:  "duplicate field",
			input: gantryHead + "pods:\n- name: a\n  cpuMilli: 1\n  cpuMilli: 2\n",
			want:  `t.yaml:6: pods[0].cpuMilli: duplicate field, first on line 5`,
		},
		{
			name:  "string where an integer belongs",
			input: gantryHead + "pods:\n- name: a\n  gpuMilli: half\n",
			want:  `t.yaml:5: pods[0].gpuMilli: want an integer, got string "half"`,
		},
		{
			name:  "fraction where an integer belongs",
			input: gantryHead + "pods:\n- name: a\n  numGPU: 1\n  gpuMilli: 0.5\n",
			want:  `t.yaml:6: pods[0].gpuMilli: want an integer, got number 0.5`,
		},
		{
			name:  "number where a string belongs",
			input: gantryHead + "nodes:\n- {name: 0001, gpus: 0}\n",
			want:  `t.yaml:4: nodes[0].name: want a string, got integer 0001 (quote it)`,
		},
		{
			name:  "gpuSpec not a list",
			input: gantryHead + "pods:\n- {name: a, numGPU: 1, gpuMilli: 500, gpuSpec: T4}\n",
			want:  `t.yaml:4: pods[0].gpuSpec: want a list, got string "T4"`,
		},
		{
			name:  "pod not a mapping",
			input: gantryHead + "pods:\n- a\n",
			want:  `t.yaml:4: pods[0]: want a mapping of fields, got string "a"`,
		},
		{
			name:  "aliases",
			input: gantryHead + "nodes:\n- &n {name: n, gpus: 0}\n- *n\n",
			want:  `t.yaml:5: nodes[1]: YAML aliases are not supported in traces`,
		},
		{
			name:  "invalid pod, with the line of the field",
			input: gantryHead + "pods:\n- name: a\n  numGPU: 2\n  gpuMilli: 500\n",
			want:  `t.yaml:6: pods[0].gpuMilli: must be 1000 (whole GPUs) for a pod that asks for 2 GPUs, got 500`,
		},
		{
			name:  "missing pod name, with the line of the pod",
			input: gantryHead + "pods:\n- name: a\n- cpuMilli: 5\n",
			want:  `t.yaml:5: pods[1].name: must not be empty`,
		},
		{
			name:  "duplicate pod name",
			input: gantryHead + "pods:\n- {name: a}\n- {name: a}\n",
			want:  `t.yaml:5: pods[1].name: duplicate name "a", first at pods[0]`,
		},
		{
			name:  "absurd GPU count",
			input: gantryHead + "pods:\n- {name: a, numGPU: 4294967296, gpuMilli: 1000}\n",
			want:  `t.yaml:4: pods[0].numGPU: 4294967296 is out of range 0..1024`,
		},
		{
			name:  "node without a model",
			input: gantryHead + "nodes:\n- {name: n, gpus: 4}\n",
			want:  `t.yaml:4: nodes[0].model: must name the GPU model of a node with 4 GPUs`,
		},
		{
			name:  "model not declared in gpuModels",
			input: gantryHead + "gpuModels: [T4]\nnodes:\n- {name: n, gpus: 4, model: T4}\npods:\n- name: a\n  numGPU: 1\n  gpuMilli: 500\n  gpuSpec:\n  - T4\n  - V100\n",
			want:  `t.yaml:12: pods[0].gpuSpec[1]: model "V100" is not in gpuModels`,
		},
		{
			name:  "model listed twice in gpuModels",
			input: gantryHead + "gpuModels: [T4, T4]\n",
			want:  `t.yaml:3: gpuModels[1]: model "T4" is listed twice`,
		},
		{
			name:  "creationTime without deletionTime",
			input: gantryHead + "pods:\n- {name: a, creationTime: 5}\n",
			want:  `t.yaml:4: pods[0].deletionTime: required with creationTime`,
		},
		{
			name: "every problem is reported",
			input: gantryHead + "pods:\n" +
				"- {name: a, cpuMilli: -1}\n" +
				"- {name: b, numGPU: 1, gpuMilli: 1001}\n",
			want: `t.yaml:4: pods[0].cpuMilli: must not be negative, got -1` + "\n" +
				`t.yaml:5: pods[1].gpuMilli: 1001 is out of range 0..1000`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadGantry(strings.NewReader(tt.input), "t.yaml")
			require.Error(t, err)
			require.Equal(t, tt.want, err.Error())
			if diff := cmp.Diff(Trace{}, got); diff != "" {
				t.Fatalf("no partial data on error (-want,+got):\n%s", diff)
			}
			var perr *ParseError
			require.True(t, errors.As(err, &perr))
		})
	}
}

func TestReadGantryAcceptsJSON(t *testing.T) {
	input := `{"apiVersion": "gantry.dev/v1alpha1", "kind": "Trace",
"nodes": [{"name": "n", "cpuMilli": 1000, "memoryMiB": 10, "gpus": 1, "model": "T4"}],
"pods": [{"name": "p", "numGPU": 1, "gpuMilli": 470}]}`
	got, err := ReadGantry(strings.NewReader(input), "t.json")
	require.NoError(t, err)
	want := Trace{
		Nodes: []Node{{Name: "n", CPUMilli: 1000, MemoryMiB: 10, GPUs: 1, Model: "T4"}},
		Pods:  []Pod{{Name: "p", NumGPU: 1, GPUMilli: 470}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("trace (-want,+got):\n%s", diff)
	}
}

// TestGantryRoundTripOfShippedTraces converts each shipped Alibaba pod list (with the GPU nodes) to the
// Gantry format and reads it back unchanged.
func TestGantryRoundTripOfShippedTraces(t *testing.T) {
	for _, variant := range []string{"default", "gpushare40", "multigpu50"} {
		t.Run(variant, func(t *testing.T) {
			want, err := LoadDir(shippedDir, variant)
			require.NoError(t, err)
			want.GPUModels = want.Models()
			var buf bytes.Buffer
			require.NoError(t, WriteGantry(&buf, want))
			got, err := ReadGantry(&buf, "converted.yaml")
			require.NoError(t, err)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("round trip (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestWriteGantry(t *testing.T) {
	ptr := func(v int64) *int64 { return &v }
	tests := []struct {
		name  string
		trace Trace
		want  string
	}{
		{
			name:  "empty",
			trace: Trace{},
			want:  gantryHead + "nodes: []\npods: []\n",
		},
		{
			name: "every field",
			trace: Trace{
				GPUModels: []string{"T4", "V100M32"},
				Nodes:     []Node{{Name: "n", CPUMilli: 1, MemoryMiB: 2, GPUs: 4, Model: "T4"}, {Name: "c", CPUMilli: 3, MemoryMiB: 4}},
				Pods: []Pod{
					{Name: `odd "name": #1`, CPUMilli: 5, MemoryMiB: 6, NumGPU: 1, GPUMilli: 250, GPUSpec: []string{"V100M32", "T4"},
						QoS: "LS", Phase: "Running", Creation: 7, Deletion: 8, Scheduled: ptr(9), HasTimes: true},
					{Name: "c", CPUMilli: 10},
				},
			},
			want: gantryHead + `gpuModels: ["T4", "V100M32"]
nodes:
- {name: "n", cpuMilli: 1, memoryMiB: 2, gpus: 4, model: "T4"}
- {name: "c", cpuMilli: 3, memoryMiB: 4, gpus: 0}
pods:
- {name: "odd \"name\": #1", cpuMilli: 5, memoryMiB: 6, numGPU: 1, gpuMilli: 250, gpuSpec: ["V100M32", "T4"], qos: "LS", phase: "Running", creationTime: 7, deletionTime: 8, scheduledTime: 9}
- {name: "c", cpuMilli: 10, memoryMiB: 0, numGPU: 0, gpuMilli: 0}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteGantry(&buf, tt.trace))
			require.Equal(t, tt.want, buf.String())
			back, err := ReadGantry(&buf, "t.yaml")
			require.NoError(t, err)
			if diff := cmp.Diff(tt.trace, back); diff != "" {
				t.Fatalf("round trip (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestWriteGantryRefusesInvalidTraces(t *testing.T) {
	tests := []struct {
		name  string
		trace Trace
		want  string
	}{
		{
			name:  "invalid pod",
			trace: Trace{Pods: []Pod{{Name: "p", NumGPU: 1, GPUMilli: 5}}},
			want:  "write trace: pods[0].gpuMilli: 5 is not a multiple of 10 (a GPU share is a whole gantry.dev/gpu-percent)",
		},
		{
			name:  "invalid UTF-8",
			trace: Trace{Nodes: []Node{{Name: "n\xff"}}},
			want:  "write trace: nodes[0].name: not valid UTF-8",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteGantry(&buf, tt.trace)
			require.EqualError(t, err, tt.want)
			require.Zero(t, buf.Len(), "nothing is written")
		})
	}
}
