package simulate

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fwk "k8s.io/kube-scheduler/framework"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"

	gantryconfig "github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/dra"
)

// simDRA is GantryDRA as a simulation runs it: every extension point is
// the plugin's own but PreBind, which in a cluster writes the claims'
// allocations through the API. The simulation has no API: the
// allocations Reserve signalled are taken as made when the pod binds
// (Memory.Commit), as Cluster Autoscaler's snapshot does.
type simDRA struct{ *dra.GantryDRA }

// PreBindPreFlight says there is nothing to write.
func (simDRA) PreBindPreFlight(context.Context, fwk.CycleState, *v1.Pod, string) (*fwk.PreBindPreFlightResult, *fwk.Status) {
	return nil, fwk.NewStatus(fwk.Skip)
}

// PreBind writes nothing.
func (simDRA) PreBind(context.Context, fwk.CycleState, *v1.Pod, string) *fwk.Status { return nil }

// registerDRA registers GantryDRA, with args when set (else its
// pluginConfig), built with kube-scheduler's feature gates.
func registerDRA(r frameworkruntime.Registry, args *gantryconfig.DeviceShareArgs) error {
	return r.Register(dra.Name, func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
		if args != nil {
			obj = args
		}
		pl, err := dra.New(ctx, obj, h)
		if err != nil {
			return nil, err
		}
		return simDRA{pl.(*dra.GantryDRA)}, nil
	})
}
