package policy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/state"
)

func TestFragmentation(t *testing.T) {
	half := policy.Shape{CPUMilli: 1000, Count: 1, Units: 50, Weight: 1}
	whole := policy.Shape{CPUMilli: 1000, Count: 1, Units: 100, Weight: 1}
	two := policy.Shape{CPUMilli: 1000, Count: 2, Units: 100, Weight: 1}
	cpu := policy.Shape{CPUMilli: 1000, Weight: 1}
	a100Only := policy.Shape{CPUMilli: 1000, Count: 1, Units: 30, Models: []string{"A100"}, Weight: 1}
	v100m16 := policy.Shape{CPUMilli: 1000, Count: 1, Units: 30, Models: []string{"V100M16"}, Weight: 1}
	npuShape := policy.Shape{Kind: device.NPU, CPUMilli: 1000, Count: 1, Units: 50, Weight: 1}

	mixedModels := coretest.Hold(coretest.MakeNode("m").GPUs("V100M16", 1, 16384).GPUs("T4", 1, 15360).State(), "default/x", 50, 1)
	gpuAndNPU := coretest.Hold(coretest.MakeNode("g").GPUs("T4", 1, 15360).NPUs("Ascend910B", 1, 65536).State(), "default/x", 70, 1)
	sick := gpuNode("sick", 0, 20)
	sick.SetHealth(sick.Devices[0].ID, device.Unhealthy)

	tests := []struct {
		name string
		node *state.NodeState
		w    policy.Workload
		want float64
	}{
		// Free [70 20] unless said otherwise.
		{name: "CPU-only shape: every free unit", node: gpuNode("n", 30, 80), w: policy.Workload{cpu}, want: 90},
		{name: "no access for the model: every free unit", node: gpuNode("n", 30, 80), w: policy.Workload{a100Only}, want: 90},
		{name: "shape does not fit the CPU left: every free unit", node: gpuNode("n", 30, 80).WithHost(32000, 999, 1<<20), w: policy.Workload{half}, want: 90},
		{name: "shape fits exactly the CPU left", node: gpuNode("n", 30, 80).WithHost(32000, 1000, 1<<20), w: policy.Workload{half}, want: 20},
		{name: "GPUs smaller than the shape", node: gpuNode("n", 30, 80), w: policy.Workload{half}, want: 20},
		{name: "whole shape with no free GPU: every free unit", node: gpuNode("n", 30, 80), w: policy.Workload{whole}, want: 90},
		{name: "whole shape on a node with one free GPU", node: gpuNode("n", 0, 80, 35), w: policy.Workload{whole}, want: 20 + 65},
		{name: "two-GPU shape with two free GPUs", node: gpuNode("n", 0, 0, 60), w: policy.Workload{two}, want: 40},
		{name: "two-GPU shape with one free GPU", node: gpuNode("n", 0, 10, 60), w: policy.Workload{two}, want: 100 + 90 + 40},
		{name: "empty node, share shape", node: gpuNode("n", 0, 0), w: policy.Workload{half}, want: 0},
		{name: "full node", node: gpuNode("n", 100, 100), w: policy.Workload{half, cpu}, want: 0},
		// 0.5·20 + 0.3·90 + 0.2·90 = 55 (the FGD test's node n2).
		{name: "three shapes", node: gpuNode("n", 30, 80), w: fgdWorkload.Normalized(), want: 55},
		// The V100M16 (100 free) takes the shape; the T4's 50 free are no use to it.
		{name: "mixed models: other models' units are fragments", node: mixedModels, w: policy.Workload{v100m16}, want: 50},
		// gpuAndNPU: the GPU is free, the NPU (index 1) has 30 left.
		// The GPU shape fits the free GPU; the NPU's 30 are not its kind.
		{name: "GPU shape ignores NPUs", node: gpuAndNPU, w: policy.Workload{half}, want: 0},
		// The NPU shape (50) does not fit the NPU's 30: all 30 free NPU units.
		{name: "NPU shape ignores GPUs", node: gpuAndNPU, w: policy.Workload{npuShape}, want: 30},
		{name: "CPU-only shape counts every kind", node: gpuAndNPU, w: policy.Workload{cpu}, want: 130},
		{name: "NPU shape on a GPU node: no NPU units to waste", node: gpuNode("n", 30, 80), w: policy.Workload{npuShape}, want: 0},
		{name: "unhealthy GPU has nothing free", node: sick, w: policy.Workload{half}, want: 0},
		{name: "CPU-only node", node: coretest.MakeNode("c").State(), w: policy.Workload{half, cpu}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, policy.NodeFragmentation(tt.node, tt.w), 1e-9)
			assert.InDelta(t, tt.want, policy.Fragmentation(tt.node, tt.node.FreeVector(), tt.node.CPUFreeMilli, tt.w), 1e-9)
		})
	}
}

func TestFragmentationOfAHypotheticalPlacement(t *testing.T) {
	n := gpuNode("n", 0, 40, 70) // free [100 60 30]
	w := fgdWorkload.Normalized()
	assert.InDelta(t, 80, policy.NodeFragmentation(n, w), 1e-9)
	// The free vector and CPU passed in win over the node's.
	assert.InDelta(t, 50, policy.Fragmentation(n, []int{100, 60, 0}, n.CPUFreeMilli, w), 1e-9)
	assert.InDelta(t, 190, policy.Fragmentation(n, []int{100, 60, 30}, 0, w), 1e-9)
}
