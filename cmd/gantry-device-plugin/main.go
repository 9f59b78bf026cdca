// Command gantry-device-plugin is Gantry's node agent: it discovers the
// node's GPUs (NVML) and NPUs (a static inventory file) and hands them to
// kubelet in the one mode its configuration names. In device-plugin mode it
// serves kubelet's device-plugin API, publishes the inventory on the Node
// and records on each pod what kubelet gave it (deviceplugin/agent); in dra
// mode it is the DRA driver gpu.gantry.dev (deviceplugin/dra/agentmode).
// "gantry-device-plugin discover" prints what discovery sees as JSON and
// exits. Flags and wiring only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/klog/v2"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/deviceplugin/agent"
	"github.com/gantry-dev/gantry/deviceplugin/apis/config"
	"github.com/gantry-dev/gantry/deviceplugin/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/dra/agentmode"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
	"github.com/gantry-dev/gantry/deviceplugin/mps"
	"github.com/gantry-dev/gantry/deviceplugin/podresources"
	"github.com/gantry-dev/gantry/internal/version"
)

type backendFlags struct {
	backends       string
	staticFile     string
	staticPoll     time.Duration
	recoveryWindow time.Duration
	ignoreXIDs     string
	healthChecks   bool
	migDevices     bool
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.backends, "backends", "nvml", "comma-separated discovery backends: nvml, static")
	fs.StringVar(&b.staticFile, "static-inventory", "/etc/gantry/inventory.yaml", "DeviceInventory file (gantry.dev/v1alpha1) of the static backend")
	fs.DurationVar(&b.staticPoll, "static-poll", 10*time.Second, "how often the static inventory is re-read for health changes")
	fs.DurationVar(&b.recoveryWindow, "recovery-window", 5*time.Minute, "how long an unhealthy GPU must stay quiet, and answer, before it is healthy again")
	fs.StringVar(&b.ignoreXIDs, "ignore-xids", "", "comma-separated XIDs to ignore on top of the default list (13,31,43,45,68,109)")
	fs.BoolVar(&b.healthChecks, "health-checks", true, "watch GPU XID and ECC events")
	fs.BoolVar(&b.migDevices, "mig-devices", true, "publish the MIG instances of GPUs in MIG mode as devices (isolation mig); false leaves such GPUs out")
}

func (b *backendFlags) build(lib nvml.Interface) ([]discovery.Backend, *discovery.NVML, error) {
	var out []discovery.Backend
	var gpu *discovery.NVML
	for _, name := range strings.Split(b.backends, ",") {
		switch strings.TrimSpace(name) {
		case "nvml":
			var xids []uint64
			for _, s := range strings.Split(b.ignoreXIDs, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				x, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					return nil, nil, fmt.Errorf("--ignore-xids: %q is not an XID: %w", s, err)
				}
				xids = append(xids, x)
			}
			gpu = discovery.NewNVML(lib, discovery.WithIgnoredXIDs(xids...), discovery.WithRecoveryWindow(b.recoveryWindow),
				discovery.WithHealthChecks(b.healthChecks), discovery.WithMIGDevices(b.migDevices))
			out = append(out, gpu)
		case "static":
			out = append(out, discovery.NewStatic(b.staticFile, nil, b.staticPoll))
		default:
			return nil, nil, fmt.Errorf("--backends: unknown backend %q (want nvml or static)", name)
		}
	}
	return out, gpu, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "discover" {
		if err := discover(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "gantry-device-plugin discover:", err)
			os.Exit(1)
		}
		return
	}
	klog.InitFlags(nil)
	var b backendFlags
	b.register(flag.CommandLine)
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file; in-cluster configuration when empty")
	nodeName := flag.String("node-name", os.Getenv("NODE_NAME"), "this node's name (default $NODE_NAME)")
	var k kubeletFlags
	flag.StringVar(&k.pluginDir, "device-plugin-dir", pluginapi.DevicePluginPath, "kubelet's device-plugin directory (device-plugin mode)")
	flag.StringVar(&k.prSocket, "pod-resources-socket", podresources.DefaultSocket, "kubelet's PodResources API socket (device-plugin mode)")
	flag.BoolVar(&k.steerPR, "steer-with-pod-resources", true, "ask kubelet's PodResources API which pod it is admitting when steering (device-plugin mode)")
	flag.DurationVar(&k.reconcileEvery, "reconcile-interval", 10*time.Second, "time between full passes recording allocations on pods (device-plugin mode)")
	flag.DurationVar(&k.heartbeat, "heartbeat", time.Minute, "how often the node's inventory is re-checked without a change (device-plugin mode)")
	flag.StringVar(&k.draPluginDir, "dra-plugin-dir", agentmode.DefaultPluginDataDir, "the driver's socket and checkpoint directory under kubelet's plugins directory (dra mode)")
	flag.StringVar(&k.registrarDir, "plugin-registration-dir", agentmode.DefaultRegistrarDir, "kubelet's plugin registration directory (dra mode)")
	metricsAddr := flag.String("metrics-bind-address", ":9466", "address serving /metrics and /healthz; none when empty")
	showVersion := flag.Bool("version", false, "print the version and exit")
	configFile := flag.String("config", "", "DevicePluginConfiguration file (gantry.dev/v1alpha1); defaults when empty")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Line("gantry-device-plugin"))
		return
	}

	conf, err := loadConfig(*configFile)
	if err != nil {
		klog.ErrorS(err, "gantry-device-plugin: bad configuration", "file", *configFile)
		os.Exit(1)
	}
	if err := run(&b, &k, conf, *kubeconfig, *nodeName, *metricsAddr); err != nil {
		klog.ErrorS(err, "gantry-device-plugin failed")
		os.Exit(1)
	}
}

// loadConfig reads the configuration file, or defaults without one.
func loadConfig(file string) (*config.DevicePluginConfiguration, error) {
	if file == "" {
		return v1alpha1.Default(&v1alpha1.DevicePluginConfiguration{})
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return v1alpha1.Load(data)
}

// kubeletFlags locate kubelet's side of each mode.
type kubeletFlags struct {
	pluginDir, prSocket       string
	steerPR                   bool
	reconcileEvery, heartbeat time.Duration
	draPluginDir              string
	registrarDir              string
}

func run(b *backendFlags, k *kubeletFlags, conf *config.DevicePluginConfiguration, kubeconfig, node, metricsAddr string) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	lib := nvml.New()
	backends, _, err := b.build(lib)
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	// In device-plugin mode every call has a deadline (apiTimeout) and the
	// pod informer's watches get a client of their own without one. DRA
	// mode's one client (the slice publisher's watch, claim reads bounded
	// by kubelet's deadline) is the one without.
	watchClient, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	timed := rest.CopyConfig(cfg)
	timed.Timeout = conf.APITimeout
	client, err := kubernetes.NewForConfig(timed)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	var cdiCfg *cdi.Config
	if conf.DeviceListStrategy == config.StrategyCDI {
		cdiCfg = &cdi.Config{Dir: conf.CDI.SpecDir, ToolkitDirs: conf.CDI.ToolkitSpecDirs}
	}
	var mpsCfg *mps.Config
	if m := conf.MPS; m.Enabled {
		mpsCfg = &mps.Config{ControlBinary: m.ControlBinary, PipeDir: m.PipeDir, LogDir: m.LogDir, ShmDir: m.ShmDir,
			HealthInterval: m.HealthInterval, BackoffInitial: m.RestartBackoffInitial, BackoffMax: m.RestartBackoffMax}
	}
	reg := k8smetrics.NewKubeRegistry()
	m := metrics.New().Register(reg)
	if metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", k8smetrics.HandlerFor(reg, k8smetrics.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		srv := &http.Server{Addr: metricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				klog.FromContext(ctx).Error(err, "Metrics server failed")
			}
		}()
		defer srv.Close()
	}
	klog.FromContext(ctx).Info("Starting the node agent", "mode", conf.Mode, "node", node)
	if conf.Mode == config.ModeDRA {
		// Validation made sure of CDI and no MPS.
		return agentmode.Serve(ctx, agentmode.ServeConfig{
			NodeName: node, KubeClient: watchClient, Backends: backends, Metrics: m, CDI: *cdiCfg,
			PluginDataDir: k.draPluginDir, RegistrarDir: k.registrarDir,
		})
	}
	return agent.Run(ctx, agent.Config{
		Client: client, WatchClient: watchClient, Node: node, Backends: backends, CDI: cdiCfg, PodResourcesTimeout: conf.APITimeout,
		MPS: mpsCfg, NVML: lib,
		SocketDir: k.pluginDir, KubeletSocket: filepath.Join(k.pluginDir, filepath.Base(pluginapi.KubeletSocket)),
		PodResourcesSocket: k.prSocket, SteerWithPodResources: k.steerPR,
		ReconcileInterval: k.reconcileEvery, Heartbeat: k.heartbeat, Metrics: m,
	})
}

// discover prints what the backends see, as JSON.
func discover(args []string) error {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	var b backendFlags
	b.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	backends, gpu, err := b.build(nvml.New())
	if err != nil {
		return err
	}
	store, err := discovery.NewStore(backends, nil)
	if err != nil {
		return err
	}
	inv, _ := store.Snapshot()
	out := struct {
		Inventory any                   `json:"inventory"`
		Runtime   discovery.Runtime     `json:"runtime"`
		NVML      []discovery.GPUDetail `json:"nvml,omitempty"`
	}{Inventory: inv, Runtime: store.Runtime()}
	if gpu != nil {
		out.NVML = gpu.Details()
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
