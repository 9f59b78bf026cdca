package deviceshare

import (
	"context"

	v1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/scheduler/apis/config"
	"github.com/gantry-dev/gantry/scheduler/apis/config/scheme"
)

// Name is the plugin's name in KubeSchedulerConfiguration.
const Name = "GantryDeviceShare"

// DeviceShare places fractional and whole device shares.
type DeviceShare struct {
	handle   fwk.Handle
	args     *config.DeviceShareArgs
	strategy *strategyHolder
	nodes    *nodeCache
	workload *observedWorkload
	write    AllocationWriter
}

// AllocationWriter records the chosen devices on the pod; by default a
// patch of the gantry.dev/allocation annotation through the API server.
// The simulator writes on its in-memory pods instead.
type AllocationWriter func(ctx context.Context, pod *v1.Pod, value string) error

// Option changes how the plugin is built.
type Option func(*DeviceShare)

// WithAllocationWriter replaces the API-server patch of PreBind.
func WithAllocationWriter(w AllocationWriter) Option {
	return func(pl *DeviceShare) { pl.write = w }
}

var (
	_ fwk.PreFilterPlugin   = &DeviceShare{}
	_ fwk.FilterPlugin      = &DeviceShare{}
	_ fwk.PreScorePlugin    = &DeviceShare{}
	_ fwk.ScorePlugin       = &DeviceShare{}
	_ fwk.ScoreExtensions   = &DeviceShare{}
	_ fwk.ReservePlugin     = &DeviceShare{}
	_ fwk.PreBindPlugin     = &DeviceShare{}
	_ fwk.EnqueueExtensions = &DeviceShare{}
	_ fwk.SignPlugin        = &DeviceShare{}
)

// Name returns the plugin's name.
func (pl *DeviceShare) Name() string { return Name }

// New builds the plugin from its args: a *runtime.Unknown holding
// gantry.dev/v1alpha1 DeviceShareArgs as kube-scheduler passes out-of-tree
// args, an already decoded *config.DeviceShareArgs, or nil for defaults.
func New(ctx context.Context, obj runtime.Object, h fwk.Handle) (fwk.Plugin, error) {
	args, err := decodeArgs(obj)
	if err != nil {
		return nil, err
	}
	return NewWithArgs(ctx, args, h)
}

// NewWithArgs builds the plugin from decoded, validated args.
func NewWithArgs(ctx context.Context, args *config.DeviceShareArgs, h fwk.Handle, opts ...Option) (*DeviceShare, error) {
	logger := klog.FromContext(ctx).WithValues("plugin", Name)
	pl := &DeviceShare{handle: h, args: args, nodes: newNodeCache(), workload: newObservedWorkload(args.WorkloadCoveragePercent)}
	pl.write = pl.patchPod
	if h != nil {
		profiles.add(h.ProfileName())
	}
	for _, o := range opts {
		o(pl)
	}
	holder, err := newStrategyHolder(args, pl.workload)
	if err != nil {
		return nil, err
	}
	pl.strategy = holder
	registerMetrics()
	logger.V(2).Info("Plugin ready", "policy", args.Policy, "zoneSpreadWeight", args.ZoneSpreadWeight, "inlineWorkloadShapes", len(args.Workload))
	return pl, nil
}

func decodeArgs(obj runtime.Object) (*config.DeviceShareArgs, error) {
	return scheme.ArgsOf(obj, Name)
}

// Strategy returns the policy in force (for tests and the simulator).
func (pl *DeviceShare) Strategy() policy.Strategy { return pl.strategy.get() }

// Args returns the plugin's decoded args.
func (pl *DeviceShare) Args() *config.DeviceShareArgs { return pl.args }
