package agentmode

import (
	"context"
	"errors"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
)

// Default directories of a kubelet plugin named gpu.gantry.dev.
const (
	DefaultPluginDataDir = "/var/lib/kubelet/plugins/gpu.gantry.dev"
	DefaultRegistrarDir  = "/var/lib/kubelet/plugins_registry"
)

// ServeConfig is the node agent's process in DRA mode.
type ServeConfig struct {
	NodeName string
	// KubeClient publishes the slice (a watch) and reads claims: give it no
	// request timeout, kubelet's deadline bounds each prepare call.
	KubeClient kubernetes.Interface
	// Backends discover the node's cards and watch their health.
	Backends []discovery.Backend
	Metrics  *metrics.Metrics
	CDI      cdi.Config
	// PluginDataDir and RegistrarDir default to kubelet's directories for
	// the driver gpu.gantry.dev.
	PluginDataDir string
	RegistrarDir  string
}

// Serve is the agent in DRA mode: it discovers the cards with the backends,
// watches their health and runs Run over them, until ctx ends or either
// fails.
func Serve(ctx context.Context, cfg ServeConfig) error {
	logger := klog.FromContext(ctx).WithValues("node", cfg.NodeName)
	ctx = klog.NewContext(ctx, logger)
	if cfg.NodeName == "" {
		return errors.New("dra mode: no node name (set NODE_NAME)")
	}
	store, err := discovery.NewStore(cfg.Backends, cfg.Metrics)
	if err != nil {
		return fmt.Errorf("dra mode: %w", err)
	}
	inv, _ := store.Snapshot()
	logger.Info("Discovered devices", "gpus", inv.Count(device.GPU), "npus", inv.Count(device.NPU))
	warnIfDevicePluginInventory(ctx, cfg.KubeClient, cfg.NodeName)
	if cfg.PluginDataDir == "" {
		cfg.PluginDataDir = DefaultPluginDataDir
	}
	if cfg.RegistrarDir == "" {
		cfg.RegistrarDir = DefaultRegistrarDir
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	// A failing health watch ends the driver (it must not serve cards
	// whose health nobody watches); the driver ending ends everything.
	// What fails only because Serve is already stopping (its context
	// ended: SIGTERM, or the other part failed first) is not reported.
	start := func(name string, f func() error, endsAll bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f()
			if err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
			if err != nil || endsAll {
				cancel()
			}
		}()
	}
	start("health", func() error { return store.Run(ctx) }, false)
	start("driver", func() error {
		return Run(ctx, RunConfig{NodeName: cfg.NodeName, KubeClient: cfg.KubeClient, Store: store, CDI: cfg.CDI,
			PluginDataDir: cfg.PluginDataDir, RegistrarDir: cfg.RegistrarDir})
	}, true)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// warnIfDevicePluginInventory logs when the Node still carries device-plugin
// mode's inventory (an agent that did not hand over, killed say): the
// scheduler and autoscaler would go on counting that capacity next to this
// driver's slice. The DRA identity may not patch Nodes, so it only says how
// to remove it.
func warnIfDevicePluginInventory(ctx context.Context, client kubernetes.Interface, node string) {
	logger := klog.FromContext(ctx)
	n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		logger.V(2).Info("Cannot read the node to check for a device-plugin inventory", "err", err)
		return
	}
	if _, ok := n.Annotations[contract.AnnotationInventory]; ok {
		logger.Error(nil, "The node still carries device-plugin mode's inventory; remove it so that its cards are offered only by this driver",
			"node", klog.KObj(n), "annotation", contract.AnnotationInventory,
			"fix", fmt.Sprintf("kubectl annotate node %s %s-", node, contract.AnnotationInventory))
	}
}
