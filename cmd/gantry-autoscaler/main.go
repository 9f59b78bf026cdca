// Command gantry-autoscaler runs the node-group autoscaler that decides with
// the same plugin gantry-scheduler places with. It only parses flags and
// wires the pieces; the loop is autoscaler/core.
package main

import (
	"context"
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

	"github.com/gantry-dev/gantry/autoscaler/apis/config/v1alpha1"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/clusterapi"
	"github.com/gantry-dev/gantry/autoscaler/cloudprovider/kwok"
	"github.com/gantry-dev/gantry/autoscaler/core"
	"github.com/gantry-dev/gantry/autoscaler/leader"
	"github.com/gantry-dev/gantry/autoscaler/source"
	"github.com/gantry-dev/gantry/autoscaler/status"
	"github.com/gantry-dev/gantry/internal/version"
)

func main() {
	klog.InitFlags(nil)
	var (
		kubeconfig   = flag.String("kubeconfig", "", "kubeconfig file; in-cluster configuration when empty")
		configFile   = flag.String("config", "", "AutoscalerConfiguration file (gantry.dev/v1alpha1)")
		provider     = flag.String("provider", "kwok", "cloud provider: kwok or clusterapi")
		scanInterval = flag.Duration("scan-interval", 0, "time between loops; the configuration's scanInterval when 0")
		namespace    = flag.String("namespace", "kube-system", "namespace of the status ConfigMap")
		statusName   = flag.String("status-configmap", "gantry-autoscaler-status", "name of the status ConfigMap; none when empty")
		metricsAddr  = flag.String("metrics-bind-address", ":8085", "address serving /metrics; none when empty")
		deletePods   = flag.Bool("delete-pods", false, "delete pods on scale-down instead of evicting them (KWOK clusters)")
		schedConfig  = flag.String("scheduler-config", "", "gantry-scheduler's KubeSchedulerConfiguration, to simulate with its plugin arguments; the plugin's defaults when empty")
		leaderElect  = flag.Bool("leader-elect", true, "run the loop only while holding a coordination.k8s.io Lease; exit when it is lost")
		le           = leader.Config{}
		showVersion  = flag.Bool("version", false, "print the version and exit")
	)
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
	var election *leader.Config
	if *leaderElect {
		election = &le
	}
	if err := run(*kubeconfig, *configFile, *provider, *scanInterval, *namespace, *statusName, *metricsAddr, *deletePods, *schedConfig, election); err != nil {
		klog.ErrorS(err, "gantry-autoscaler failed")
		os.Exit(1)
	}
}

func run(kubeconfig, configFile, providerName string, scanInterval time.Duration, namespace, statusName, metricsAddr string, deletePods bool, schedConfig string, election *leader.Config) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	logger := klog.FromContext(ctx)
	data, err := os.ReadFile(configFile)
	if err != nil {
		return fmt.Errorf("reading --config: %w", err)
	}
	cfg, err := v1alpha1.Load(data)
	if err != nil {
		return err
	}
	if scanInterval > 0 {
		cfg.ScanInterval = scanInterval
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 200, 400
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	var cp cloudprovider.CloudProvider
	switch providerName {
	case "kwok":
		cp = kwok.New(client, cfg.AllGroups())
	case "clusterapi":
		dyn, err := dynamic.NewForConfig(rc)
		if err != nil {
			return err
		}
		if cp, err = clusterapi.New(dyn, cfg.AllGroups()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown --provider %q (want kwok or clusterapi)", providerName)
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(clientgoScheme(), corev1.EventSource{Component: "gantry-autoscaler"})

	metrics.Register() // the simulated scheduler framework's own metrics
	registry := k8smetrics.NewKubeRegistry()
	if metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", k8smetrics.HandlerFor(registry, k8smetrics.HandlerOpts{}))
		srv := &http.Server{Addr: metricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				logger.Error(err, "Metrics server stopped")
			}
		}()
		defer srv.Close()
	}
	o := core.Options{Config: cfg, Provider: cp, Source: &source.Client{Client: client, DeletePods: deletePods},
		Recorder: recorder, Registry: registry, Seed: time.Now().UnixNano()}
	if schedConfig != "" {
		if o.Scheduler.Profile, err = schedulerProfile(schedConfig); err != nil {
			return err
		}
	}
	if statusName != "" {
		o.Status = &status.ConfigMapWriter{Client: client, Namespace: namespace, Name: statusName}
	}
	a, err := core.New(ctx, o)
	if err != nil {
		return err
	}
	logger.Info("Starting gantry-autoscaler", "provider", providerName, "nodeGroups", len(cfg.AllGroups()), "scanInterval", cfg.ScanInterval, "leaderElect", election != nil)
	loop := func(ctx context.Context) {
		t := time.NewTicker(cfg.ScanInterval)
		defer t.Stop()
		for {
			if err := a.RunOnce(ctx, time.Now()); err != nil && ctx.Err() == nil {
				logger.Error(err, "Loop failed")
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
	if election == nil {
		loop(ctx)
		return nil
	}
	// As Cluster Autoscaler: loop only while leading; a lost lease ends
	// the process (run returns leader.ErrLost, main exits non-zero).
	return leader.Run(ctx, client, *election, loop)
}
