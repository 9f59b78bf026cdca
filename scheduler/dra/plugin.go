package dra

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	kconfig "k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/dynamicresources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/apis/config/scheme"
)

// Name is the plugin's name in KubeSchedulerConfiguration. A profile that
// enables it must disable DynamicResources: GantryDRA is that plugin.
const Name = "GantryDRA"

// GantryDRA is upstream's DynamicResources plugin, seeing each node's Gantry
// devices in the order the configured strategy prefers.
type GantryDRA struct {
	// DynamicResources is the in-tree plugin; every extension point that
	// GantryDRA does not override is its own.
	*dynamicresources.DynamicResources
	draManager fwk.SharedDRAManager
	view       *orderedSlices
	strategy   policy.Strategy
	args       *config.DeviceShareArgs
	memo       *rankMemo
	// noOrder leaves the allocator upstream's first-fit device order.
	noOrder bool
	// cycle serialises PreFilter: the order in view belongs to one pod.
	cycle sync.Mutex
}

var (
	_ fwk.PreEnqueuePlugin  = &GantryDRA{}
	_ fwk.PreFilterPlugin   = &GantryDRA{}
	_ fwk.FilterPlugin      = &GantryDRA{}
	_ fwk.PostFilterPlugin  = &GantryDRA{}
	_ fwk.ScorePlugin       = &GantryDRA{}
	_ fwk.ScoreExtensions   = &GantryDRA{}
	_ fwk.ReservePlugin     = &GantryDRA{}
	_ fwk.PreBindPlugin     = &GantryDRA{}
	_ fwk.EnqueueExtensions = &GantryDRA{}
	_ fwk.SignPlugin        = &GantryDRA{}
)

// Name returns the plugin's name.
func (pl *GantryDRA) Name() string { return Name }

// New builds the plugin. Its args are GantryDeviceShare's (a
// gantry.dev/v1alpha1 DeviceShareArgs: policy, workload, seed); the fields
// about writing annotations and zone spread do not apply. The embedded
// DynamicResources plugin runs with kube-scheduler's feature gates and its
// default timeouts.
func New(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
	args, err := decodeArgs(obj)
	if err != nil {
		return nil, err
	}
	return NewWithArgs(ctx, args, h, feature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate))
}

// Option changes how the plugin is built.
type Option func(*GantryDRA)

// WithoutDeviceOrder keeps the strategy's node score but leaves the choice
// of card to upstream's first-fit: what Gantry adds on DRA is measured
// against it.
func WithoutDeviceOrder() Option { return func(pl *GantryDRA) { pl.noOrder = true } }

// NewWithArgs builds the plugin from decoded args and explicit features.
func NewWithArgs(ctx context.Context, args *config.DeviceShareArgs, h fwk.Handle, fts feature.Features, opts ...Option) (*GantryDRA, error) {
	logger := klog.FromContext(ctx).WithValues("plugin", Name)
	if h.SharedDRAManager() == nil {
		return nil, fmt.Errorf("%s needs the scheduler's DRA manager, and the framework has none", Name)
	}
	w := policy.Workload(args.Workload)
	if len(w) == 0 {
		// Without a declared workload FGD measures against whole cards.
		w = policy.Workload{{Count: 1, Units: device.UnitsPerDevice, Weight: 1}}
	}
	s, err := policy.New(args.Policy, policy.Options{Workload: w, Seed: args.Seed})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	pl := &GantryDRA{draManager: h.SharedDRAManager(), strategy: s, args: args, memo: newRankMemo(!policy.DependsOnPod(args.Policy))}
	for _, o := range opts {
		o(pl)
	}
	pl.view = &orderedSlices{base: pl.draManager.ResourceSlices()}
	innerArgs := &kconfig.DynamicResourcesArgs{
		FilterTimeout:  &metav1.Duration{Duration: kconfig.DynamicResourcesFilterTimeoutDefault},
		BindingTimeout: &metav1.Duration{Duration: kconfig.DynamicResourcesBindingTimeoutDefault},
	}
	inner, err := dynamicresources.New(ctx, innerArgs, &handle{Handle: h, dra: &draView{SharedDRAManager: pl.draManager, slices: pl.view}}, fts)
	if err != nil {
		return nil, fmt.Errorf("%s: building the DynamicResources plugin: %w", Name, err)
	}
	dr, ok := inner.(*dynamicresources.DynamicResources)
	if !ok {
		return nil, fmt.Errorf("%s: DynamicResources plugin is a %T", Name, inner)
	}
	pl.DynamicResources = dr
	logger.V(2).Info("Plugin ready", "policy", args.Policy, "driver", contract.DRADriver, "workloadShapes", len(args.Workload))
	return pl, nil
}

func decodeArgs(obj runtime.Object) (*config.DeviceShareArgs, error) {
	return scheme.ArgsOf(obj, Name)
}

// kindOf says whether a DeviceClass is Gantry's and which kind it selects.
func (pl *GantryDRA) kindOf(class string) (device.Kind, bool) {
	c, err := pl.draManager.DeviceClasses().Get(class)
	if err != nil {
		return "", false
	}
	return contract.KindOfDeviceClass(c)
}
