package inspect

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/state"
)

// holding returns a pod bound to node holding units of each of its
// devices idx, with the scheduler's allocation record.
func holding(t *testing.T, name string, nw *coretest.NodeWrapper, units int, idx ...int) corev1.Pod {
	t.Helper()
	inv := nw.Inventory()
	var shares []contract.DeviceShare
	for _, i := range idx {
		shares = append(shares, contract.DeviceShare{ID: inv.Devices[i].ID, Index: i, Units: units})
	}
	node := nw.Obj().Name
	alloc, err := contract.EncodeAllocation(contract.Allocation{Node: node, Containers: []contract.ContainerAllocation{{
		Container: "main", Kind: device.GPU, Devices: shares}}})
	require.NoError(t, err)
	return *coretest.MakePod(name).GPUPercent(int64(units*len(idx))).Node(node).Annotation(contract.AnnotationAllocation, alloc).Obj()
}

func TestWhy(t *testing.T) {
	t4 := []*coretest.NodeWrapper{
		coretest.MakeNode("t4-a").Zone("z1").GPUs("T4", 2, 16384),
		coretest.MakeNode("t4-b").Zone("z1").GPUs("T4", 2, 16384),
		coretest.MakeNode("t4-c").Zone("z2").GPUs("T4", 2, 16384),
	}
	a100 := coretest.MakeNode("a100").Zone("z2").GPUs("A100", 2, 81920)
	nodes := []corev1.Node{*t4[0].Obj(), *t4[1].Obj(), *t4[2].Obj(), *a100.Obj(), *coretest.MakeNode("cpu").Obj()}
	pods := []corev1.Pod{
		holding(t, "full", a100, 100, 0, 1),
		holding(t, "part", t4[0], 60, 0),
	}

	tests := []struct {
		name       string
		pod        *corev1.Pod
		want       []WhyGroup
		wantFits   []string
		wantErrMsg string
	}{
		{
			name: "a model constraint: the T4 nodes lack the model, the A100 node lacks room",
			pod:  coretest.MakePod("p").GPUPercent(100).Models("A100").Obj(),
			want: []WhyGroup{
				{Code: state.ModelMismatch, Example: "node has no GPU of model A100", Unresolvable: true, Nodes: []string{"t4-a", "t4-b", "t4-c"}},
				{Code: state.InsufficientShare, Example: `0 of 1 whole GPU of model A100 free, container "main" asks for 1`, Nodes: []string{"a100"}},
			},
		},
		{
			name:     "more whole GPUs than any node has",
			pod:      coretest.MakePod("p").GPUPercent(400).Obj(),
			want:     []WhyGroup{{Code: state.TooFewDevices, Example: `node has 2 GPU, container "main" asks for 4`, Unresolvable: true, Nodes: []string{"a100", "t4-a", "t4-b", "t4-c"}}},
			wantFits: nil,
		},
		{
			name:     "a share that fits the free T4s",
			pod:      coretest.MakePod("p").GPUPercent(50).Obj(),
			want:     []WhyGroup{{Code: state.InsufficientShare, Example: `no GPU has 50% free (most free: 0%)`, Nodes: []string{"a100"}}},
			wantFits: []string{"t4-a", "t4-b", "t4-c"},
		},
		{
			name: "the pod's own record is left out: a bound pod is asked about every node afresh",
			pod:  &pods[1],
			want: []WhyGroup{{Code: state.InsufficientShare, Example: `no GPU has 60% free (most free: 0%)`, Nodes: []string{"a100"}}},
			// t4-a fits again once part's own 60% is not counted
			wantFits: []string{"t4-a", "t4-b", "t4-c"},
		},
		{
			name:       "no device request",
			pod:        coretest.MakePod("cpu-only").Obj(),
			wantErrMsg: "asks for no gantry.dev device",
		},
		{
			name:       "a malformed request is the parser's error",
			pod:        coretest.MakePod("bad").GPUPercent(150).Obj(),
			wantErrMsg: "150",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Why(tc.pod, nodes, pods)
			if tc.wantErrMsg != "" {
				require.ErrorContains(t, err, tc.wantErrMsg)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tc.want, r.Groups); diff != "" {
				t.Errorf("groups (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantFits, r.Fits); diff != "" {
				t.Errorf("fits (-want,+got):\n%s", diff)
			}
			require.Equal(t, 1, r.NoInventory)
			var out bytes.Buffer
			require.NoError(t, PrintWhy(&out, r))
			require.Contains(t, out.String(), tc.want[0].Example)
		})
	}
}

func TestPrintWhyOrdersGroups(t *testing.T) {
	r := &WhyReport{Pod: "default/p", Asks: []string{`container "main": 2 whole GPU`}, Groups: []WhyGroup{
		{Code: state.ModelMismatch, Example: "node has no GPU of model A100", Unresolvable: true, Nodes: []string{"a", "b", "c", "d", "e", "f"}},
		{Code: state.InsufficientShare, Example: "1 of 2 whole GPU free", Nodes: []string{"g"}},
	}}
	var out bytes.Buffer
	require.NoError(t, PrintWhy(&out, r))
	want := `Pod default/p asks for container "main": 2 whole GPU.
Gantry's device fit (the scheduler's Filter) on 7 nodes with an inventory:
NODES  REASON             HELPS                                        EXAMPLE                        ON
6      ModelMismatch      other hardware (a node group that has it)    node has no GPU of model A100  a,b,c,d,e and 1 more
1      InsufficientShare  free room (scale-down, preemption, deletes)  1 of 2 whole GPU free          g
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want,+got):\n%s", diff)
	}
}

func TestSummary(t *testing.T) {
	t4 := coretest.MakeNode("t4").GPUs("T4", 4, 16384).Unhealthy(3)
	a100 := coretest.MakeNode("a100").GPUs("A100", 2, 81920)
	nodes := []corev1.Node{*t4.Obj(), *a100.Obj()}
	pods := []corev1.Pod{
		holding(t, "quarter", t4, 25, 0),
		holding(t, "whole", t4, 100, 1),
		holding(t, "big", a100, 100, 0, 1),
	}
	rows, problems := Summary(nodes, pods)
	require.Empty(t, problems)
	want := []ModelRow{
		{Kind: "gpu", Model: "A100", Nodes: 1, Devices: 2, Capacity: 200, Used: 200, Free: 0},
		// card 0 has 75% stranded; card 2 is free; card 3 is unhealthy.
		{Kind: "gpu", Model: "T4", Nodes: 1, Devices: 4, Unhealthy: 1, Capacity: 300, Used: 125, Free: 175, Stranded: 75},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("summary (-want,+got):\n%s", diff)
	}
	var out bytes.Buffer
	require.NoError(t, PrintSummary(&out, rows, nil))
	require.Contains(t, out.String(), "gpu   T4     1      4        1          3.00      1.25  1.75  0.75")
}
