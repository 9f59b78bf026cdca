package simulate

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/dynamicresources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
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

// DRAChoice is which plugin places claims in DRA mode.
type DRAChoice int

const (
	// DRAGantry is GantryDRA: the policy scores the nodes and orders each
	// node's cards, and upstream's allocator takes the first that fits.
	DRAGantry DRAChoice = iota
	// DRAFirstFit is GantryDRA built dra.WithoutDeviceOrder: the policy
	// scores the nodes, upstream's first-fit allocator picks the cards.
	DRAFirstFit
	// DRAStock is the in-tree DynamicResources plugin in place of
	// GantryDRA: no Gantry score for claims, first-fit cards. Pass
	// Options.Scorer DynamicResources for it to score alone.
	DRAStock
)

// simStock is the in-tree DynamicResources plugin as a simulation runs
// it: PreBind writes nothing, as simDRA's.
type simStock struct {
	*dynamicresources.DynamicResources
}

func (simStock) PreBindPreFlight(context.Context, fwk.CycleState, *v1.Pod, string) (*fwk.PreBindPreFlightResult, *fwk.Status) {
	return nil, fwk.NewStatus(fwk.Skip)
}

func (simStock) PreBind(context.Context, fwk.CycleState, *v1.Pod, string) *fwk.Status { return nil }

// registerDRA registers the choice's DRA plugin: GantryDRA with args when
// set (else its pluginConfig), or the in-tree DynamicResources in place of
// its factory, built with kube-scheduler's feature gates.
func registerDRA(r frameworkruntime.Registry, args *gantryconfig.DeviceShareArgs, choice DRAChoice) error {
	fts := feature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate)
	switch choice {
	case DRAGantry, DRAFirstFit:
	case DRAStock:
		if err := r.Unregister(dynamicResources); err != nil {
			return err
		}
		return r.Register(dynamicResources, func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
			pl, err := dynamicresources.New(ctx, obj, h, fts)
			if err != nil {
				return nil, err
			}
			return simStock{pl.(*dynamicresources.DynamicResources)}, nil
		})
	default:
		return fmt.Errorf("unknown DRA choice %d", choice)
	}
	return r.Register(dra.Name, func(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
		if args == nil {
			if choice == DRAFirstFit {
				return nil, fmt.Errorf("%s without its device order needs Options.Args", dra.Name)
			}
			pl, err := dra.New(ctx, obj, h)
			if err != nil {
				return nil, err
			}
			return simDRA{pl.(*dra.GantryDRA)}, nil
		}
		var opts []dra.Option
		if choice == DRAFirstFit {
			opts = append(opts, dra.WithoutDeviceOrder())
		}
		pl, err := dra.NewWithArgs(ctx, args, h, fts, opts...)
		if err != nil {
			return nil, err
		}
		return simDRA{pl}, nil
	})
}
