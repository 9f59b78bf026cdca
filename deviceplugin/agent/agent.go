package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
	"github.com/gantry-dev/gantry/deviceplugin/mps"
	"github.com/gantry-dev/gantry/deviceplugin/podresources"
	"github.com/gantry-dev/gantry/deviceplugin/publish"
	"github.com/gantry-dev/gantry/deviceplugin/reconcile"
	"github.com/gantry-dev/gantry/deviceplugin/server"
)

// Component is the name events are reported under.
const Component = "gantry-device-plugin"

// Config is everything the agent needs.
type Config struct {
	// Client makes the agent's calls (patches, events); give it a request
	// timeout. WatchClient, when set, feeds the pod informer instead, so
	// that its long-running watches are not cut by that timeout.
	Client      kubernetes.Interface
	WatchClient kubernetes.Interface
	Node        string
	Backends    []discovery.Backend
	// SocketDir and KubeletSocket locate kubelet's device-plugin
	// directory; empty means kubelet's defaults.
	SocketDir     string
	KubeletSocket string
	// PodResourcesSocket is kubelet's PodResources API; empty means
	// podresources.DefaultSocket.
	PodResourcesSocket string
	// SteerWithPodResources lets the steering ask kubelet which pod it is
	// admitting (see server.Steerer). Turn off only to measure without it.
	SteerWithPodResources bool
	ReconcileInterval     time.Duration
	Heartbeat             time.Duration
	WatchInterval         time.Duration
	Clock                 clock.WithTicker
	Metrics               *metrics.Metrics
	// Recorder overrides the event recorder built on Client.
	Recorder record.EventRecorder
	// Pods overrides the pod lister; by default the agent runs an informer
	// on the pods bound to Node.
	Pods corelisters.PodLister
	// CDI, when set, selects the cdi strategy: the agent keeps a CDI spec
	// per device there and Allocate answers with CDI devices. Nil is the
	// envvar strategy (not tamper-proof).
	CDI *cdi.Config
	// PodResourcesTimeout bounds each PodResources call; default 5s.
	PodResourcesTimeout time.Duration
	// MPS, when set, runs the CUDA MPS daemon for every whole NVIDIA GPU
	// (not MIG instances), which then publish isolation mps; needs CDI and
	// NVML (the library the nvml backend uses).
	MPS  *mps.Config
	NVML nvml.Interface
}

// mpsComponent names the MPS daemon's withdrawals in the store.
const mpsComponent = "mps"

// Run runs the agent until ctx is done or a component fails.
func Run(ctx context.Context, cfg Config) error {
	logger := klog.FromContext(ctx).WithValues("node", cfg.Node)
	ctx = klog.NewContext(ctx, logger)
	if cfg.Node == "" {
		return errors.New("no node name (set NODE_NAME)")
	}
	m := metrics.OrNew(cfg.Metrics)
	store, err := discovery.NewStore(cfg.Backends, m)
	if err != nil {
		return err
	}
	inv, _ := store.Snapshot()
	logger.Info("Discovered devices", "gpus", inv.Count(device.GPU), "npus", inv.Count(device.NPU))
	for _, d := range inv.Devices {
		logger.Info("Device", "id", d.ID, "index", d.Index, "kind", d.Kind, "model", d.Model, "memoryMiB", d.MemoryMiB,
			"numaNode", d.NUMANode, "linkGroup", d.LinkGroup, "health", d.Health)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The informer is not waited for: kubelet gets the devices at once,
	// even while the API server is unreachable. Until the cache syncs,
	// steering falls back to kubelet's PodResources answer and best fit,
	// and the reconciler waits (see below).
	pods := cfg.Pods
	synced := func() bool { return true }
	if pods == nil {
		wc := cfg.WatchClient
		if wc == nil {
			wc = cfg.Client
		}
		factory := informers.NewSharedInformerFactoryWithOptions(wc, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.Node).String()
		}))
		informer := factory.Core().V1().Pods()
		pods = informer.Lister()
		synced = informer.Informer().HasSynced
		factory.Start(ctx.Done())
		// Stop the informers before waiting for them, also on an early
		// error return (Shutdown waits for them to end).
		defer func() {
			cancel()
			factory.Shutdown()
		}()
	}

	var daemon *mps.Daemon
	if cfg.MPS != nil {
		if cfg.CDI == nil || cfg.NVML == nil {
			return errors.New("MPS needs the cdi strategy and NVML")
		}
		if daemon, err = startMPS(ctx, cfg, store); err != nil {
			return err
		}
		c := *cfg.CDI
		c.MPS = &cdi.MPS{PipeDir: cfg.MPS.PipeDir, ShmDir: cfg.MPS.ShmDir}
		cfg.CDI = &c
	}

	var names server.CDINamer
	var cdiWriter *cdi.Writer
	if cfg.CDI != nil {
		w, err := cdi.New(*cfg.CDI)
		if err != nil {
			return err
		}
		if err := syncCDI(w, store); err != nil {
			// Only the cards named in err are refused at Allocate, each
			// with this cause; the others are served.
			logger.Error(err, "Some devices have no usable CDI spec")
		}
		logger.Info("Devices are handed over by CDI", "specDir", w.Dir(), "specs", len(w.Specs()))
		names, cdiWriter = w, w
	} else {
		logger.Info("Devices are handed over in environment variables (envvar strategy): a pod that sets NVIDIA_VISIBLE_DEVICES itself is not contained unless the NVIDIA toolkit refuses it")
	}

	socket := cfg.PodResourcesSocket
	if socket == "" {
		socket = podresources.DefaultSocket
	}
	pr, err := podresources.Dial(socket, cfg.PodResourcesTimeout)
	if err != nil {
		return err
	}
	defer pr.Close()

	recorder := cfg.Recorder
	if recorder == nil {
		b := record.NewBroadcaster(record.WithContext(ctx))
		b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Client.CoreV1().Events("")})
		defer b.Shutdown()
		recorder = b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component, Host: cfg.Node})
	}

	rec := &reconcile.Reconciler{Client: cfg.Client, Node: cfg.Node, Pods: pods, PodResources: pr, Devices: store,
		Recorder: recorder, Interval: cfg.ReconcileInterval, Metrics: m}
	pub := &publish.Publisher{Client: cfg.Client, Node: cfg.Node, Source: store, Clock: cfg.Clock, Heartbeat: cfg.Heartbeat, Metrics: m}

	var plugins []*server.Plugin
	for _, k := range device.Kinds {
		if inv.Count(k) == 0 {
			continue
		}
		sc := server.SteererConfig{Node: cfg.Node, Kind: k, Pods: pods}
		if cfg.SteerWithPodResources {
			sc.PodResources = pr
		}
		p, err := server.New(server.Config{Kind: k, Devices: store, Steerer: server.NewSteerer(sc),
			SocketDir: cfg.SocketDir, KubeletSocket: cfg.KubeletSocket, WatchInterval: cfg.WatchInterval,
			OnAllocate: rec.Trigger, CDI: names, Metrics: m})
		if err != nil {
			return err
		}
		plugins = append(plugins, p)
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(plugins)+1)
	start := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	start("health", func() error { return store.Run(ctx) })
	if cdiWriter != nil {
		start("cdi", func() error { keepCDISynced(ctx, cdiWriter, store); return nil })
	}
	if daemon != nil {
		start("mps", func() error { return daemon.Run(ctx) })
	}
	start("publisher", func() error { pub.Run(ctx); return nil })
	start("reconciler", func() error {
		// Records are written from the pod cache; wait for it.
		if !cache.WaitForCacheSync(ctx.Done(), synced) {
			return nil
		}
		rec.Run(ctx)
		return nil
	})
	for _, p := range plugins {
		start(p.Resource(), func() error { return p.Run(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

// syncCDI writes the CDI spec of every device in the store.
func syncCDI(w *cdi.Writer, store *discovery.Store) error {
	inv, _ := store.Snapshot()
	rt := store.Runtime()
	cards := make([]cdi.Card, 0, len(inv.Devices))
	for _, d := range inv.Devices {
		cards = append(cards, cdi.Card{Device: d, DeviceNodes: rt.For(d).Paths})
	}
	return w.Sync(cards)
}

// keepCDISynced rewrites the specs whenever the inventory changes (a
// device's isolation or memory; health changes rewrite identical specs).
func keepCDISynced(ctx context.Context, w *cdi.Writer, store *discovery.Store) {
	logger := klog.FromContext(ctx)
	for {
		_, changed := store.Snapshot()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		if err := syncCDI(w, store); err != nil {
			logger.Error(err, "Some devices have no usable CDI spec")
		}
	}
}

// startMPS marks the node's whole NVIDIA GPUs as isolated by MPS, withdraws
// them until the daemon answers, and returns the daemon, whose ups and
// downs withdraw and restore them.
func startMPS(ctx context.Context, cfg Config, store *discovery.Store) (*mps.Daemon, error) {
	inv, _ := store.Snapshot()
	var cards []device.Device
	var ids []string
	for _, d := range inv.Devices {
		if d.Kind == device.GPU && d.Vendor == "nvidia" && d.MIG == nil {
			cards = append(cards, d)
			ids = append(ids, d.ID)
		}
	}
	store.SetIsolation(device.IsolationMPS, ids...)
	for _, id := range ids {
		store.Withdraw(ctx, id, mpsComponent, "MPS daemon not started yet")
	}
	return mps.New(*cfg.MPS, cfg.NVML, cards, func(ctx context.Context, up bool, reason string) {
		for _, id := range ids {
			if up {
				store.Restore(ctx, id, mpsComponent, reason)
			} else {
				store.Withdraw(ctx, id, mpsComponent, reason)
			}
		}
	})
}
