// Command gantry-autoscaler runs the node-group autoscaler that decides with
// the same plugin gantry-scheduler places with. It only parses flags and
// wires the pieces; the loop is autoscaler/core.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
	"k8s.io/utils/clock"

	"github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/clusterapi"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/kwok"
	"github.com/gantry-dev/gantry/autoscaler/core"
	"github.com/gantry-dev/gantry/autoscaler/health"
	"github.com/gantry-dev/gantry/autoscaler/leader"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/autoscaler/status"
	"github.com/gantry-dev/gantry/internal/version"
)

// options are the command line.
type options struct {
	kubeconfig, configFile, provider, namespace, statusName string
	metricsAddr, healthAddr, schedConfig                    string
	scanInterval, maxInactivity, maxFailing                 time.Duration
	election                                                *leader.Config
}

func main() {
	klog.InitFlags(nil)
	var (
		o           options
		leaderElect = flag.Bool("leader-elect", true, "run the loop only while holding a coordination.k8s.io Lease; exit at once when it is lost")
		le          = leader.Config{}
		showVersion = flag.Bool("version", false, "print the version and exit")
	)
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster configuration when empty")
	flag.StringVar(&o.configFile, "config", "", "AutoscalerConfiguration file (gantry.dev/v1alpha1)")
	flag.StringVar(&o.provider, "provider", "clusterapi", "node-group provider: clusterapi (MachineDeployments), or kwok (creates KWOK fake nodes: demos and tests only)")
	flag.DurationVar(&o.scanInterval, "scan-interval", 0, "time between loops; the configuration's scanInterval when 0")
	flag.StringVar(&o.namespace, "namespace", "kube-system", "namespace of the status ConfigMap")
	flag.StringVar(&o.statusName, "status-configmap", "gantry-autoscaler-status", "name of the status ConfigMap (the manifests ship it; the autoscaler only reads and updates it); none when empty")
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8085", "address serving /metrics; none when empty")
	flag.StringVar(&o.healthAddr, "health-probe-bind-address", ":8086", "address serving /healthz (fails when the loop stalls) and /readyz; none when empty")
	flag.DurationVar(&o.maxInactivity, "max-inactivity", 10*time.Minute, "/healthz fails when the leading loop has neither started nor ended a run for this long")
	flag.DurationVar(&o.maxFailing, "max-failing-time", 15*time.Minute, "/healthz fails when the leading loop has not completed a run without error for this long")
	flag.StringVar(&o.schedConfig, "scheduler-config", "", "gantry-scheduler's KubeSchedulerConfiguration, to simulate with its plugin arguments; the plugin's defaults when empty")
	flag.DurationVar(&le.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long non-leaders wait after the last renewal before taking the lease over")
	flag.DurationVar(&le.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader retries renewing before it gives up leading")
	flag.DurationVar(&le.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "time between tries to acquire or renew the lease")
	flag.StringVar(&le.Namespace, "leader-elect-resource-namespace", "kube-system", "namespace of the leader-election Lease")
	flag.StringVar(&le.Name, "leader-elect-resource-name", "gantry-autoscaler", "name of the leader-election Lease")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Line("gantry-autoscaler"))
		return
	}
	if *leaderElect {
		o.election = &le
	}
	if err := run(o); err != nil {
		klog.ErrorS(err, "gantry-autoscaler failed")
		// A lost lease exits here at once, even while a loop is running.
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
}

func run(o options) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	logger := klog.FromContext(ctx)
	data, err := os.ReadFile(o.configFile)
	if err != nil {
		return fmt.Errorf("reading --config: %w", err)
	}
	cfg, err := v1alpha1.Load(data)
	if err != nil {
		return err
	}
	if o.scanInterval > 0 {
		cfg.ScanInterval = o.scanInterval
	}
	rc, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 200, 400
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	factory := source.NewInformerFactory(client)
	src := source.NewClient(client, factory)
	if cfg.DRA() {
		// A group in DRA mode: slices, classes and claims are simulated.
		src.EnableDRA(factory)
	}
	var cp cloudprovider.CloudProvider
	switch o.provider {
	case "kwok":
		logger.Info("WARNING: the kwok provider creates and deletes KWOK fake nodes; use it for demos and tests, never on a production cluster")
		cp = kwok.New(client, src.NodeLister(), cfg.AllGroups())
	case "clusterapi":
		dyn, err := dynamic.NewForConfig(rc)
		if err != nil {
			return err
		}
		if cp, err = clusterapi.New(dyn, cfg.AllGroups()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown --provider %q (want clusterapi or kwok)", o.provider)
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(clientgoScheme(), corev1.EventSource{Component: "gantry-autoscaler"})

	metrics.Register() // the simulated scheduler framework's own metrics
	registry := k8smetrics.NewKubeRegistry()
	if o.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", k8smetrics.HandlerFor(registry, k8smetrics.HandlerOpts{}))
		defer serve(ctx, "metrics", o.metricsAddr, mux)()
	}
	check := health.New(clock.RealClock{}, o.maxInactivity, o.maxFailing)
	if o.healthAddr != "" {
		defer serve(ctx, "health", o.healthAddr, check.Handler())()
	}
	co := core.Options{Config: cfg, Provider: cp, Source: src, Recorder: recorder, Registry: registry, Seed: time.Now().UnixNano()}
	if o.schedConfig != "" {
		if co.Scheduler.Profile, err = schedulerProfile(o.schedConfig); err != nil {
			return err
		}
	}
	if o.statusName != "" {
		co.Status = &status.ConfigMapWriter{Client: client, Namespace: o.namespace, Name: o.statusName}
	}
	a, err := core.New(ctx, co)
	if err != nil {
		return err
	}
	if err := source.StartInformers(ctx, factory); err != nil {
		return err
	}
	defer func() {
		cancel() // the informers stop with ctx; Shutdown waits for them
		factory.Shutdown()
	}()
	check.Synced()
	logger.Info("Starting gantry-autoscaler", "provider", o.provider, "nodeGroups", len(cfg.AllGroups()), "scanInterval", cfg.ScanInterval, "leaderElect", o.election != nil)
	loop := func(ctx context.Context) {
		check.StartedLeading()
		t := time.NewTicker(cfg.ScanInterval)
		defer t.Stop()
		for {
			check.LoopStarted()
			err := a.RunOnce(ctx, time.Now())
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				logger.Error(err, "Loop failed")
			}
			check.LoopDone(err)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
	if o.election == nil {
		loop(ctx)
		return nil
	}
	// As Cluster Autoscaler: loop only while leading; a lost lease ends
	// the process at once (leader.ErrLost, main exits non-zero).
	return leader.Run(ctx, client, *o.election, loop)
}

// serve runs an HTTP server on addr until the returned stop is called.
func serve(ctx context.Context, name, addr string, h http.Handler) (stop func()) {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.FromContext(ctx).Error(err, "HTTP server stopped", "server", name, "address", addr)
		}
	}()
	return func() { _ = srv.Close() }
}
