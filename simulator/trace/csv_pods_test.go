package trace

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

const podHeader = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"

func TestReadPodsRejectsMalformedInput(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{name: "empty input", input: "", want: `pods.csv: empty input, want a header line`},
		{name: "only a header", input: podHeader, want: `pods.csv:1: no data rows after the header`},
		{
			name:  "missing required columns",
			input: "name,cpu_milli,memory_mib\np,1,1\n",
			want: `pods.csv:1: column "num_gpu": missing required column` + "\n" +
				`pods.csv:1: column "gpu_milli": missing required column`,
		},
		{
			name:  "duplicate header column",
			input: "name,cpu_milli,memory_mib,num_gpu,gpu_milli,cpu_milli\np,1,1,0,0,1\n",
			want:  `pods.csv:1: column "cpu_milli": duplicate header column (fields 2 and 6)`,
		},
		{
			name:  "creation_time without deletion_time",
			input: "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time\np,1,1,0,0,5\n",
			want:  `pods.csv:1: column "deletion_time": missing column, required with "creation_time"`,
		},
		{
			name:  "too few fields",
			input: podHeader + "p,1000,1024,1,500,,LS,Running,0,10\n",
			want:  `pods.csv:2: row has 10 fields, the header has 11`,
		},
		{
			name:  "malformed CSV quote",
			input: podHeader + "p\"x,1000,1024,1,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: malformed CSV (byte 2): bare " in non-quoted-field`,
		},
		{
			name:  "not an integer",
			input: podHeader + "p,1000,1024,1,abc,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "gpu_milli": invalid integer "abc"`,
		},
		{
			name:  "fractional number",
			input: podHeader + "p,1000.5,1024,1,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "cpu_milli": invalid integer "1000.5"`,
		},
		{
			name:  "empty required cell",
			input: podHeader + "p,,1024,1,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "cpu_milli": empty value, want an integer`,
		},
		{
			name:  "num_gpu beyond 32 bits",
			input: podHeader + "p,1000,1024,4294967296,1000,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "num_gpu": integer 4294967296 is out of range`,
		},
		{
			name:  "negative cpu",
			input: podHeader + "p,-5,1024,1,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "cpu_milli": must not be negative, got -5`,
		},
		{
			name:  "negative memory",
			input: podHeader + "p,5,-1,1,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "memory_mib": must not be negative, got -1`,
		},
		{
			name:  "num_gpu above the most devices a container may ask for",
			input: podHeader + "p,5,1,1025,1000,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "num_gpu": 1025 is out of range 0..1024`,
		},
		{
			name:  "memory whose size in bytes overflows",
			input: podHeader + "p,5,8796093022208,1,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "memory_mib": 8796093022208 is out of range 0..8796093022207 (its size in bytes must fit an int64)`,
		},
		{
			name:  "gpu_spec model that is not a valid model name",
			input: podHeader + "p,5,1,1,500,T4|V100 SXM,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "gpu_spec": model 2: "V100 SXM" is not a valid GPU model (1..63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit)`,
		},
		{
			name:  "negative num_gpu",
			input: podHeader + "p,5,1,-1,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "num_gpu": must not be negative, got -1`,
		},
		{
			name:  "gpu_milli above one GPU",
			input: podHeader + "p,5,1,1,1500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "gpu_milli": 1500 is out of range 0..1000`,
		},
		{
			name:  "gpu_milli not a whole percent",
			input: podHeader + "p,5,1,1,125,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "gpu_milli": 125 is not a multiple of 10 (a GPU share is a whole gantry.dev/gpu-percent)`,
		},
		{
			name:  "gpu_milli without a GPU",
			input: podHeader + "p,5,1,0,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "gpu_milli": must be 0 for a pod that asks for no GPU, got 500`,
		},
		{
			name:  "a GPU without gpu_milli",
			input: podHeader + "p,5,1,1,0,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "gpu_milli": must be 10..1000 for a pod that asks for 1 GPU(s), got 0`,
		},
		{
			name:  "multi-GPU pod with a fractional share",
			input: podHeader + "p,5,1,2,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "gpu_milli": must be 1000 (whole GPUs) for a pod that asks for 2 GPUs, got 500`,
		},
		{
			name:  "empty name",
			input: podHeader + ",5,1,1,500,,LS,Running,0,10,\n",
			want:  `pods.csv:2: column "name": must not be empty`,
		},
		{
			name:  "duplicate name",
			input: podHeader + "p,5,1,1,500,,LS,Running,0,10,\nq,5,1,1,500,,LS,Running,0,10,\np,5,1,1,500,,LS,Running,0,10,\n",
			want:  `pods.csv:4: column "name": duplicate name "p", first on line 2`,
		},
		{
			name:  "negative creation_time",
			input: podHeader + "p,5,1,1,500,,LS,Running,-3,10,\n",
			want:  `pods.csv:2: column "creation_time": must not be negative, got -3`,
		},
		{
			name:  "empty deletion_time",
			input: podHeader + "p,5,1,1,500,,LS,Running,3,,\n",
			want:  `pods.csv:2: column "deletion_time": empty value, want an integer`,
		},
		{
			name:  "negative scheduled_time",
			input: podHeader + "p,5,1,1,500,,LS,Running,3,10,-1\n",
			want:  `pods.csv:2: column "scheduled_time": must not be negative, got -1`,
		},
		{
			name: "every bad row is reported, good rows are not returned",
			input: podHeader +
				"a,5,1,1,500,,LS,Running,0,10,\n" +
				"b,x,1,1,500,,LS,Running,0,10,\n" +
				"c,5,1,1,500,,LS,Running,0,10,\n" +
				"d,5,1,3,990,,LS,Running,0,10,\n" +
				"e,5,1,1,500,,LS,Running,0,10\n",
			want: `pods.csv:3: column "cpu_milli": invalid integer "x"` + "\n" +
				`pods.csv:5: column "gpu_milli": must be 1000 (whole GPUs) for a pod that asks for 3 GPUs, got 990` + "\n" +
				`pods.csv:6: row has 10 fields, the header has 11`,
		},
		{
			name:  "every bad cell of a row is reported",
			input: podHeader + "p,x,y,1,500,,LS,Running,0,10,z\n",
			want: `pods.csv:2: column "cpu_milli": invalid integer "x"` + "\n" +
				`pods.csv:2: column "memory_mib": invalid integer "y"` + "\n" +
				`pods.csv:2: column "scheduled_time": invalid integer "z"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pods, norm, err := ReadPods(strings.NewReader(tt.input), "pods.csv")
			require.Error(t, err)
			require.Nil(t, pods, "no partial data on error")
			require.Nil(t, norm)
			require.Equal(t, tt.want, err.Error())

			var perr *ParseError
			require.True(t, errors.As(err, &perr), "errors.As finds a *ParseError")
			var list *ParseErrors
			require.True(t, errors.As(err, &list))
			require.Equal(t, "pods.csv", perr.Source)
		})
	}
}

func TestReadPodsParseErrorFields(t *testing.T) {
	_, _, err := ReadPods(strings.NewReader(podHeader+"p,5,1,1,1500,,LS,Running,0,10,\n"), "pods.csv")
	var perr *ParseError
	require.True(t, errors.As(err, &perr))
	want := &ParseError{Source: "pods.csv", Line: 2, Column: "gpu_milli", Value: "1500", Reason: "1500 is out of range 0..1000"}
	if diff := cmp.Diff(want, perr, cmpIgnoreErr); diff != "" {
		t.Fatalf("ParseError (-want,+got):\n%s", diff)
	}
	var ferr *FieldError
	require.True(t, errors.As(err, &ferr), "the validation error is wrapped")
	require.Equal(t, "gpuMilli", ferr.Field)
}

func TestReadPodsCapsReportedErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(podHeader)
	for i := range MaxReportedErrors + 5 {
		fmt.Fprintf(&b, "p%d,-1,1,0,0,,LS,Running,0,10,\n", i)
	}
	_, _, err := ReadPods(strings.NewReader(b.String()), "pods.csv")
	var list *ParseErrors
	require.True(t, errors.As(err, &list))
	require.Len(t, list.Errors, MaxReportedErrors)
	require.Equal(t, 5, list.Omitted)
	require.Equal(t, MaxReportedErrors+5, list.Len())
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, MaxReportedErrors+1)
	require.Equal(t, `pods.csv:2: column "cpu_milli": must not be negative, got -1`, lines[0])
	require.Equal(t, "... and 5 more errors", lines[MaxReportedErrors])
}

func TestReadPodsAcceptsTheTraceFormats(t *testing.T) {
	ptr := func(v int64) *int64 { return &v }
	tests := []struct {
		name     string
		input    string
		want     []Pod
		wantNorm Normalizations
	}{
		{
			name:  "full format",
			input: podHeader + "openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061\n" + "openb-pod-0002,8000,4096,8,1000,V100M16|V100M32,BE,Pending,10,20,\n",
			want: []Pod{
				{Name: "openb-pod-0001", CPUMilli: 6000, MemoryMiB: 12288, NumGPU: 1, GPUMilli: 460, QoS: "LS", Phase: "Running",
					Creation: 427061, Deletion: 12902960, Scheduled: ptr(427061), HasTimes: true},
				{Name: "openb-pod-0002", CPUMilli: 8000, MemoryMiB: 4096, NumGPU: 8, GPUMilli: 1000, GPUSpec: []string{"V100M16", "V100M32"},
					QoS: "BE", Phase: "Pending", Creation: 10, Deletion: 20, HasTimes: true},
			},
		},
		{
			name:  "multigpu five-column format",
			input: "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nopenb-pod-9060,16200,66560,2,1000\nc,1,2,0,0\n",
			want: []Pod{
				{Name: "openb-pod-9060", CPUMilli: 16200, MemoryMiB: 66560, NumGPU: 2, GPUMilli: 1000},
				{Name: "c", CPUMilli: 1, MemoryMiB: 2},
			},
		},
		{
			name:  "any column order, unknown and unnamed columns ignored",
			input: "gpu_milli,comment,num_gpu,memory_mib,name,cpu_milli,\n250,whatever,1,100,p,300,\n",
			want:  []Pod{{Name: "p", CPUMilli: 300, MemoryMiB: 100, NumGPU: 1, GPUMilli: 250}},
		},
		{
			name:  "byte-order mark and CRLF line ends",
			input: "\ufeffname,cpu_milli,memory_mib,num_gpu,gpu_milli\r\np,1,2,1,50\r\n",
			want:  []Pod{{Name: "p", CPUMilli: 1, MemoryMiB: 2, NumGPU: 1, GPUMilli: 50}},
		},
		{
			// As published in openb_pod_list_gpuspec20.csv; the reference reads it as the set.
			name: "a model named twice is kept once and counted",
			input: podHeader + "a,8000,4096,1,500,V100M16|V100M32|V100M32,LS,Running,0,10,\n" +
				"b,8000,4096,1,500,T4|T4|T4,LS,Running,0,10,\n" + "c,8000,4096,1,500,T4|A10,LS,Running,0,10,\n",
			want: []Pod{
				{Name: "a", CPUMilli: 8000, MemoryMiB: 4096, NumGPU: 1, GPUMilli: 500, GPUSpec: []string{"V100M16", "V100M32"}, QoS: "LS", Phase: "Running", Deletion: 10, HasTimes: true},
				{Name: "b", CPUMilli: 8000, MemoryMiB: 4096, NumGPU: 1, GPUMilli: 500, GPUSpec: []string{"T4"}, QoS: "LS", Phase: "Running", Deletion: 10, HasTimes: true},
				{Name: "c", CPUMilli: 8000, MemoryMiB: 4096, NumGPU: 1, GPUMilli: 500, GPUSpec: []string{"T4", "A10"}, QoS: "LS", Phase: "Running", Deletion: 10, HasTimes: true},
			},
			wantNorm: Normalizations{RepeatedGPUModel: 2},
		},
		{
			// The reference's converter drops empty entries; a list left empty means any model.
			name: "empty model entries are dropped and counted once per row",
			input: podHeader + "a,1,1,1,500,T4||A10|,LS,Running,0,10,\n" + "b,1,1,1,500,|,LS,Running,0,10,\n" +
				"c,1,1,1,500,|T4|T4,LS,Running,0,10,\n",
			want: []Pod{
				{Name: "a", CPUMilli: 1, MemoryMiB: 1, NumGPU: 1, GPUMilli: 500, GPUSpec: []string{"T4", "A10"}, QoS: "LS", Phase: "Running", Deletion: 10, HasTimes: true},
				{Name: "b", CPUMilli: 1, MemoryMiB: 1, NumGPU: 1, GPUMilli: 500, QoS: "LS", Phase: "Running", Deletion: 10, HasTimes: true},
				{Name: "c", CPUMilli: 1, MemoryMiB: 1, NumGPU: 1, GPUMilli: 500, GPUSpec: []string{"T4"}, QoS: "LS", Phase: "Running", Deletion: 10, HasTimes: true},
			},
			wantNorm: Normalizations{EmptyGPUModel: 3, RepeatedGPUModel: 1},
		},
		{
			name:  "any non-negative GPU count",
			input: "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,2,3,1000\n",
			want:  []Pod{{Name: "p", CPUMilli: 1, MemoryMiB: 2, NumGPU: 3, GPUMilli: 1000}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, norm, err := ReadPods(strings.NewReader(tt.input), "pods.csv")
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("pods (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNorm, norm, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("normalisations (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestPodHelpers(t *testing.T) {
	tests := []struct {
		name        string
		pod         Pod
		wantPercent int
		wantTotal   int64
		wantSharing bool
		wantCPUOnly bool
	}{
		{name: "cpu only", pod: Pod{}, wantCPUOnly: true},
		{name: "smallest share", pod: Pod{NumGPU: 1, GPUMilli: 50}, wantPercent: 5, wantTotal: 50, wantSharing: true},
		{name: "share", pod: Pod{NumGPU: 1, GPUMilli: 460}, wantPercent: 46, wantTotal: 460, wantSharing: true},
		{name: "one whole GPU", pod: Pod{NumGPU: 1, GPUMilli: 1000}, wantPercent: 100, wantTotal: 1000},
		{name: "eight GPUs", pod: Pod{NumGPU: 8, GPUMilli: 1000}, wantPercent: 100, wantTotal: 8000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.wantPercent, tt.pod.GPUPercent())
			require.Equal(t, tt.wantTotal, tt.pod.TotalGPUMilli())
			require.Equal(t, tt.wantSharing, tt.pod.IsSharing())
			require.Equal(t, tt.wantCPUOnly, tt.pod.IsCPUOnly())
		})
	}
}

func TestPodCloneSharesNothing(t *testing.T) {
	s := int64(7)
	p := Pod{Name: "p", GPUSpec: []string{"T4"}, Scheduled: &s}
	c := p.Clone()
	c.GPUSpec[0] = "A10"
	*c.Scheduled = 8
	require.Equal(t, "T4", p.GPUSpec[0])
	require.Equal(t, int64(7), *p.Scheduled)
}

func TestPodValidateReportsEveryField(t *testing.T) {
	err := Pod{Name: "", CPUMilli: -1, MemoryMiB: -2, NumGPU: 1, GPUMilli: 5}.Validate()
	var list FieldErrors
	require.True(t, errors.As(err, &list))
	got := make([]string, len(list))
	for i, e := range list {
		got[i] = e.Error()
	}
	want := []string{
		"name: must not be empty",
		"cpuMilli: must not be negative, got -1",
		"memoryMiB: must not be negative, got -2",
		"gpuMilli: 5 is not a multiple of 10 (a GPU share is a whole gantry.dev/gpu-percent)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("errors (-want,+got):\n%s", diff)
	}
	require.NoError(t, Pod{Name: "p", NumGPU: 1, GPUMilli: 10}.Validate())
}

// cmpIgnoreErr compares ParseErrors without their wrapped cause.
var cmpIgnoreErr = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Err" }, cmp.Ignore())
