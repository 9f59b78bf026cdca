package contract_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/coretest"
	"github.com/gantry-dev/gantry/core/device"
)

func TestInventoryRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		inv  device.Inventory
	}{
		{name: "empty", inv: device.Inventory{}},
		{name: "eight A100", inv: coretest.MakeNode("n1").GPUs("A100-SXM4-80GB", 8, 81920).Inventory()},
		{name: "GPUs and NPUs, unknown NUMA, no link group", inv: coretest.MakeNode("n1").GPUs("T4", 2, 15360).NPUs("Ascend910B", 2, 65536).
			Topology(1, device.NoNUMA, "").Unhealthy(3).Inventory()},
		{name: "isolation levels and a MIG instance", inv: device.Inventory{Devices: []device.Device{
			{ID: "GPU-0", Index: 0, Kind: device.GPU, Model: "A100-SXM4-40GB", MemoryMiB: 40960, Health: device.Healthy, Isolation: device.IsolationMPS},
			{ID: "MIG-1", Index: 1, Kind: device.GPU, Model: "A100-1g.5gb", MemoryMiB: 4864, Health: device.Healthy, Isolation: device.IsolationMIG,
				MIG: &device.MIG{Parent: "GPU-1", Profile: "1g.5gb"}},
			{ID: "GPU-2", Index: 2, Kind: device.GPU, Model: "A100-SXM4-40GB", MemoryMiB: 40960, Health: device.Healthy},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := contract.EncodeInventory(tt.inv)
			require.NoError(t, err)
			got, err := contract.DecodeInventory("n1", v)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.inv.Devices, got.Devices); diff != "" {
				t.Errorf("round trip (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestEncodeInventorySortsACopy(t *testing.T) {
	inv := coretest.MakeNode("n1").GPUs("T4", 3, 15360).Inventory()
	inv.Devices[0], inv.Devices[2] = inv.Devices[2], inv.Devices[0]
	before := append([]device.Device(nil), inv.Devices...)

	v, err := contract.EncodeInventory(inv)
	require.NoError(t, err)

	if diff := cmp.Diff(before, inv.Devices); diff != "" {
		t.Errorf("EncodeInventory reordered the caller's devices (-want,+got):\n%s", diff)
	}
	got, err := contract.DecodeInventory("n1", v)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2}, []int{got.Devices[0].Index, got.Devices[1].Index, got.Devices[2].Index})
}

func TestEncodeInventoryRejectsInvalid(t *testing.T) {
	inv := coretest.MakeNode("n1").GPUs("T4", 1, 15360).Inventory()
	inv.Devices[0].MemoryMiB = -1
	_, err := contract.EncodeInventory(inv)
	require.EqualError(t, err, `device "gpu-n1-0": negative memoryMiB -1`)
}

const prefix = `node "n1": invalid gantry.dev/inventory annotation: `

func TestDecodeInventoryErrors(t *testing.T) {
	dev := func(fields string) string {
		return `{"version":"v1","devices":[` + fields + `]}`
	}
	const ok0 = `{"id":"g0","index":0,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0}`
	const ok1 = `{"id":"g1","index":1,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0}`
	tests := []struct {
		name    string
		value   string
		wantMsg string
	}{
		{name: "not JSON", value: `gpu=8`,
			wantMsg: prefix + "not valid JSON: invalid character 'g' looking for beginning of value"},
		{name: "empty", value: ``,
			wantMsg: prefix + "not valid JSON: EOF"},
		{name: "truncated", value: `{"version":"v1","devices":[`,
			wantMsg: prefix + "not valid JSON: unexpected EOF"},
		{name: "trailing object", value: dev(ok0) + `{}`,
			wantMsg: prefix + "trailing data after the JSON object"},
		{name: "unknown isolation", value: dev(`{"id":"g0","index":0,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0,"isolation":"hami"}`),
			wantMsg: prefix + `bad device: device "g0": unknown isolation "hami" (want "none", "mps" or "mig")`},
		{name: "MIG isolation without details", value: dev(`{"id":"g0","index":0,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0,"isolation":"mig"}`),
			wantMsg: prefix + `bad device: device "g0": isolation "mig" needs mig details and mig details need isolation "mig"`},
		{name: "trailing brace", value: dev(ok0) + `}`,
			wantMsg: prefix + "trailing data after the JSON object"},
		{name: "trailing bracket", value: dev(ok0) + ` ]`,
			wantMsg: prefix + "trailing data after the JSON object"},
		{name: "wrong version", value: `{"version":"v2","devices":[]}`,
			wantMsg: prefix + `version "v2" is not supported (want "v1")`},
		{name: "missing version", value: `{"devices":[]}`,
			wantMsg: prefix + `version "" is not supported (want "v1")`},
		{name: "unknown top-level field", value: `{"version":"v1","devices":[],"color":"red"}`,
			wantMsg: prefix + `not valid JSON: json: unknown field "color"`},
		{name: "unknown device field", value: dev(`{"id":"g0","index":0,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0,"sriov":true}`),
			wantMsg: prefix + `not valid JSON: json: unknown field "sriov"`},
		{name: "wrong type", value: `{"version":"v1","devices":"all"}`,
			wantMsg: prefix + "not valid JSON: json: cannot unmarshal string into Go struct field inventoryWire.devices of type []device.Device"},
		{name: "duplicate id", value: dev(ok0 + `,{"id":"g0","index":1,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0}`),
			wantMsg: prefix + `bad device: device "g0" listed twice`},
		{name: "duplicate index", value: dev(ok0 + `,{"id":"g1","index":0,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0}`),
			wantMsg: prefix + `bad device: device index 0 listed twice`},
		{name: "bad kind", value: dev(`{"id":"g0","index":0,"kind":"tpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0}`),
			wantMsg: prefix + `bad device: device "g0": unknown kind "tpu" (want "gpu" or "npu")`},
		{name: "bad health", value: dev(ok1 + `,{"id":"g0","index":0,"kind":"gpu","model":"T4","memoryMiB":1,"health":"ok","numaNode":0}`),
			wantMsg: prefix + `bad device: device "g0": unknown health "ok" (want "Healthy" or "Unhealthy")`},
		{name: "negative memory", value: dev(`{"id":"g0","index":0,"kind":"gpu","model":"T4","memoryMiB":-16,"health":"Healthy","numaNode":0}`),
			wantMsg: prefix + `bad device: device "g0": negative memoryMiB -16`},
		{name: "empty id", value: dev(`{"id":"","index":3,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0}`),
			wantMsg: prefix + `bad device: device 3: empty id`},
		{name: "negative index", value: dev(`{"id":"g0","index":-1,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":0}`),
			wantMsg: prefix + `bad device: device "g0": negative index -1`},
		{name: "empty model", value: dev(`{"id":"g0","index":0,"kind":"gpu","model":"","memoryMiB":1,"health":"Healthy","numaNode":0}`),
			wantMsg: prefix + `bad device: device "g0": empty model`},
		{name: "model that is no label value", value: dev(`{"id":"g0","index":0,"kind":"gpu","model":"NVIDIA A100","memoryMiB":1,"health":"Healthy","numaNode":0}`),
			wantMsg: prefix + `bad device: device "g0": model "NVIDIA A100" is not a valid label value (1..63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit)`},
		{name: "NUMA below -1", value: dev(`{"id":"g0","index":0,"kind":"gpu","model":"T4","memoryMiB":1,"health":"Healthy","numaNode":-2}`),
			wantMsg: prefix + `bad device: device "g0": numaNode -2 below -1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := contract.DecodeInventory("n1", tt.value)
			var invalid *contract.InvalidInventoryError
			require.ErrorAs(t, err, &invalid)
			assert.Equal(t, "n1", invalid.Node)
			assert.EqualError(t, err, tt.wantMsg)

			node := coretest.MakeNode("n1").RawInventory(tt.value).Obj()
			_, err = contract.InventoryOf(node)
			require.ErrorAs(t, err, &invalid)
			assert.EqualError(t, err, tt.wantMsg)
		})
	}
}

func TestInventoryOf(t *testing.T) {
	t.Run("no annotation", func(t *testing.T) {
		_, err := contract.InventoryOf(coretest.MakeNode("cpu").Obj())
		require.ErrorIs(t, err, contract.ErrNoInventory)
		var invalid *contract.InvalidInventoryError
		assert.False(t, errors.As(err, &invalid), "a CPU-only node is not a broken one")
	})
	t.Run("published by the builder", func(t *testing.T) {
		w := coretest.MakeNode("n1").GPUs("T4", 2, 15360)
		got, err := contract.InventoryOf(w.Obj())
		require.NoError(t, err)
		if diff := cmp.Diff(w.Inventory(), got); diff != "" {
			t.Errorf("inventory (-want,+got):\n%s", diff)
		}
	})
}

func TestNodeLabels(t *testing.T) {
	tests := []struct {
		name string
		node *coretest.NodeWrapper
		want map[string]string
	}{
		{name: "no devices", node: coretest.MakeNode("n1"), want: map[string]string{}},
		{name: "one GPU model", node: coretest.MakeNode("n1").GPUs("A100", 8, 81920), want: map[string]string{
			contract.LabelGPUModel: "A100", contract.LabelGPUCount: "8", contract.LabelAccelerator: "gpu",
		}},
		{name: "mixed GPU models", node: coretest.MakeNode("n1").GPUs("V100M16", 2, 16384).GPUs("V100M32", 2, 32768), want: map[string]string{
			contract.LabelGPUModel: contract.MixedModel, contract.LabelGPUCount: "4", contract.LabelAccelerator: "gpu",
		}},
		{name: "NPUs only", node: coretest.MakeNode("n1").NPUs("Ascend910B", 4, 65536), want: map[string]string{
			contract.LabelNPUModel: "Ascend910B", contract.LabelNPUCount: "4", contract.LabelAccelerator: "npu",
		}},
		{name: "GPUs and NPUs, unhealthy counted", node: coretest.MakeNode("n1").GPUs("T4", 1, 15360).NPUs("Ascend910B", 2, 65536).Unhealthy(2), want: map[string]string{
			contract.LabelGPUModel: "T4", contract.LabelGPUCount: "1",
			contract.LabelNPUModel: "Ascend910B", contract.LabelNPUCount: "2",
			contract.LabelAccelerator: "gpu-npu",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, contract.NodeLabels(tt.node.Inventory())); diff != "" {
				t.Errorf("labels (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestAllocatable(t *testing.T) {
	q := func(v int64) resource.Quantity { return *resource.NewQuantity(v, resource.DecimalSI) }
	tests := []struct {
		name string
		node *coretest.NodeWrapper
		want map[corev1.ResourceName]int64
	}{
		{name: "no devices", node: coretest.MakeNode("n1"), want: map[corev1.ResourceName]int64{}},
		{name: "eight GPUs", node: coretest.MakeNode("n1").GPUs("A100", 8, 81920),
			want: map[corev1.ResourceName]int64{contract.ResourceGPUPercent: 800}},
		{name: "unhealthy GPU excluded", node: coretest.MakeNode("n1").GPUs("A100", 4, 81920).Unhealthy(1).Unhealthy(3),
			want: map[corev1.ResourceName]int64{contract.ResourceGPUPercent: 200}},
		{name: "all unhealthy advertises zero", node: coretest.MakeNode("n1").GPUs("A100", 1, 81920).Unhealthy(0),
			want: map[corev1.ResourceName]int64{contract.ResourceGPUPercent: 0}},
		{name: "GPUs and NPUs", node: coretest.MakeNode("n1").GPUs("T4", 1, 15360).NPUs("Ascend910B", 2, 65536).Unhealthy(1),
			want: map[corev1.ResourceName]int64{contract.ResourceGPUPercent: 100, contract.ResourceNPUPercent: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := contract.Allocatable(tt.node.Inventory())
			want := corev1.ResourceList{}
			for k, v := range tt.want {
				want[k] = q(v)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("allocatable (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestNamesPerKind(t *testing.T) {
	tests := []struct {
		kind                       device.Kind
		resource                   corev1.ResourceName
		models, modelLabel, counts string
	}{
		{device.GPU, contract.ResourceGPUPercent, contract.AnnotationGPUModels, contract.LabelGPUModel, contract.LabelGPUCount},
		{device.NPU, contract.ResourceNPUPercent, contract.AnnotationNPUModels, contract.LabelNPUModel, contract.LabelNPUCount},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			assert.Equal(t, tt.resource, contract.ResourceFor(tt.kind))
			assert.Equal(t, tt.models, contract.ModelsAnnotationFor(tt.kind))
			assert.Equal(t, tt.modelLabel, contract.ModelLabelFor(tt.kind))
			assert.Equal(t, tt.counts, contract.CountLabelFor(tt.kind))
		})
	}
}
