package scheme_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/scheduler/apis/config/scheme"
	"github.com/gantry-dev/gantry/scheduler/apis/config/validation"
)

// FuzzDecodeArgs: any plugin args an operator writes are refused with an
// error or decode to args that pass validation.
func FuzzDecodeArgs(f *testing.F) {
	f.Add([]byte("apiVersion: gantry.dev/v1alpha1\nkind: DeviceShareArgs\npolicy: FGD\nzoneSpreadWeight: 70\n"))
	f.Add([]byte(`{"apiVersion":"gantry.dev/v1alpha1","kind":"DeviceShareArgs","policy":"Binpack","writeAllocation":"Bind"}`))
	f.Add([]byte("policy: Random\nseed: 7\nworkload:\n- {count: 1, percent: 25, weight: 3}\n"))
	f.Add([]byte("policy: Nope\n"))
	f.Add([]byte("zoneSpreadWeight: 101\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		path := field.NewPath("args")
		args, err := scheme.DecodeArgs(raw, path)
		if err != nil {
			return
		}
		if errs := validation.ValidateDeviceShareArgs(path, args); len(errs) > 0 {
			t.Fatalf("decoded args do not validate: %v", errs.ToAggregate())
		}
	})
}
