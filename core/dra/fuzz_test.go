package dra_test

import (
	"testing"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/dra/dratest"
)

// FuzzRequestOf feeds claims with arbitrary counts and capacity quantities:
// RequestOf never panics, and what it accepts is a share core can place
// (1..100 percent of each of 1..MaxDevices devices).
func FuzzRequestOf(f *testing.F) {
	f.Add(int64(1), "25", "")
	f.Add(int64(2), "", "")
	f.Add(int64(0), "100", "10Gi")
	f.Add(int64(-3), "150", "")
	f.Add(int64(1), "12.5", "")
	f.Add(int64(1), "1e3", "1Mi")
	f.Fuzz(func(t *testing.T, count int64, percent, memory string) {
		c := dratest.MakeClaim("ns", "c").Request("r", "gpu.gantry.dev", count, 0).Obj()
		reqs := map[resourceapi.QualifiedName]resource.Quantity{}
		if q, err := resource.ParseQuantity(percent); err == nil {
			reqs[contract.DRACapacityPercent] = q
		}
		if q, err := resource.ParseQuantity(memory); err == nil {
			reqs[contract.DRACapacityMemory] = q
		}
		if len(reqs) > 0 {
			c.Spec.Devices.Requests[0].Exactly.Capacity = &resourceapi.CapacityRequirements{Requests: reqs}
		}
		req, err := dra.RequestOf("ns/p", []*resourceapi.ResourceClaim{c}, gantryClasses)
		if err != nil {
			return
		}
		for _, p := range req.Parts {
			if p.Units < 1 || p.Units > device.UnitsPerDevice || p.Count < 1 || p.Count > 1024 {
				t.Fatalf("accepted part %+v", p)
			}
		}
	})
}

// FuzzDeviceFromDRA reads devices with arbitrary attribute and capacity
// values: it never panics, and what it accepts is a valid core device.
func FuzzDeviceFromDRA(f *testing.F) {
	f.Add("gpu", "GPU-1", int64(0), "A100", "100", "80Gi", "none", false)
	f.Add("npu", "", int64(-1), "", "50", "", "mig", true)
	f.Add("tpu", "x", int64(3), "bad model!", "1e2", "-1", "mps", false)
	f.Fuzz(func(t *testing.T, kind, uuid string, index int64, model, percent, memory, isolation string, tainted bool) {
		d := contract.DRADevice(device.Device{ID: "u", Index: 0, Kind: device.GPU, Model: "A100", Health: device.Healthy})
		d.Attributes[contract.DRAAttrKind] = resourceapi.DeviceAttribute{StringValue: &kind}
		d.Attributes[contract.DRAAttrUUID] = resourceapi.DeviceAttribute{StringValue: &uuid}
		d.Attributes[contract.DRAAttrIndex] = resourceapi.DeviceAttribute{IntValue: &index}
		d.Attributes[contract.DRAAttrModel] = resourceapi.DeviceAttribute{StringValue: &model}
		d.Attributes[contract.DRAAttrIsolation] = resourceapi.DeviceAttribute{StringValue: &isolation}
		if q, err := resource.ParseQuantity(percent); err == nil {
			c := d.Capacity[contract.DRACapacityPercent]
			c.Value = q
			d.Capacity[contract.DRACapacityPercent] = c
		}
		if q, err := resource.ParseQuantity(memory); err == nil {
			c := d.Capacity[contract.DRACapacityMemory]
			c.Value = q
			d.Capacity[contract.DRACapacityMemory] = c
		}
		if tainted {
			d.Taints = []resourceapi.DeviceTaint{{Key: contract.DRATaintUnhealthy, Effect: resourceapi.DeviceTaintEffectNoExecute}}
		}
		got, err := contract.DeviceFromDRA(d)
		if err != nil {
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("accepted invalid device %+v: %v", got, err)
		}
		if tainted && got.Healthy() {
			t.Fatalf("tainted device read as healthy")
		}
	})
}
