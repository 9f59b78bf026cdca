package discovery

import "testing"

// FuzzDecodeInventoryFile: any static inventory file is refused with an
// error or decodes to devices that form a valid inventory.
func FuzzDecodeInventoryFile(f *testing.F) {
	f.Add([]byte("apiVersion: gantry.dev/v1alpha1\nkind: DeviceInventory\nspec:\n  devices:\n  - {id: npu-0, kind: npu, model: Ascend910B, memoryMiB: 65536}\n"))
	f.Add([]byte("apiVersion: gantry.dev/v1alpha1\nkind: DeviceInventory\nspec:\n  devices:\n  - {id: a, kind: npu, model: X, memoryMiB: 1, health: Unhealthy, numaNode: 1, linkGroup: g}\n  - {id: b, kind: gpu, model: Y, memoryMiB: 2}\n"))
	f.Add([]byte(`{"apiVersion":"gantry.dev/v1alpha1","kind":"DeviceInventory","spec":{"devices":[]}}`))
	f.Add([]byte("apiVersion: gantry.dev/v2\nkind: DeviceInventory\n"))
	f.Add([]byte("a: 1\na: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := DecodeInventoryFile(data)
		if err != nil {
			return
		}
		if err := file.Inventory().Validate(); err != nil {
			t.Fatalf("accepted file yields an invalid inventory: %v", err)
		}
	})
}
