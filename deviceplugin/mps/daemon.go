package mps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/gantry-dev/gantry/core/device"
)

// Config configures a Daemon.
type Config struct {
	// ControlBinary is nvidia-cuda-mps-control.
	ControlBinary string
	// PipeDir, LogDir and ShmDir are the daemon's own directories (ShmDir
	// is mounted as /dev/shm into clients).
	PipeDir, LogDir, ShmDir string
	HealthInterval          time.Duration
	BackoffInitial          time.Duration
	BackoffMax              time.Duration
	// CommandTimeout bounds each control invocation; default 10s.
	CommandTimeout time.Duration
	Clock          clock.Clock
}

// Listener is told when the daemon goes down (up false) and comes back.
type Listener func(ctx context.Context, up bool, reason string)

// Daemon runs the MPS control daemon for a set of cards.
type Daemon struct {
	cfg      Config
	lib      nvml.Interface
	cards    []device.Device
	listener Listener

	saved []savedMode

	mu sync.Mutex
	up bool
}

// New returns a Daemon for cards (whole GPUs, in NVML index order) driven
// through lib.
func New(cfg Config, lib nvml.Interface, cards []device.Device, listener Listener) (*Daemon, error) {
	if cfg.ControlBinary == "" {
		return nil, errors.New("no MPS control binary")
	}
	for _, d := range []string{cfg.PipeDir, cfg.LogDir, cfg.ShmDir} {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("MPS directory %q is not an absolute path", d)
		}
	}
	if cfg.HealthInterval <= 0 || cfg.BackoffInitial <= 0 || cfg.BackoffMax < cfg.BackoffInitial {
		return nil, fmt.Errorf("MPS health interval %v and backoff %v..%v must be positive and ordered", cfg.HealthInterval, cfg.BackoffInitial, cfg.BackoffMax)
	}
	if cfg.CommandTimeout == 0 {
		cfg.CommandTimeout = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if listener == nil {
		listener = func(context.Context, bool, string) {}
	}
	return &Daemon{cfg: cfg, lib: lib, cards: cards, listener: listener}, nil
}

// Up reports whether the daemon answered its last probe.
func (d *Daemon) Up() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.up
}

// Run prepares the cards and directories, keeps the daemon running until
// ctx is done, then stops it and restores the cards' compute modes. It
// returns an error only when the cards or directories cannot be prepared
// or restored: a daemon that will not start is retried with backoff, its
// cards withdrawn meanwhile.
func (d *Daemon) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("component", "mps")
	ctx = klog.NewContext(ctx, logger)
	for _, dir := range []struct {
		path string
		mode os.FileMode
	}{{d.cfg.PipeDir, 0o755}, {d.cfg.LogDir, 0o755}, {d.cfg.ShmDir, 0o1777}} {
		if err := os.MkdirAll(dir.path, dir.mode); err != nil {
			return fmt.Errorf("MPS directory: %w", err)
		}
	}
	if ret := d.lib.Init(); ret != nvml.SUCCESS {
		return fmt.Errorf("NVML Init: %v", nvml.ErrorString(ret))
	}
	defer d.lib.Shutdown()
	if err := d.setExclusive(); err != nil {
		return err
	}
	logger.Info("Cards in EXCLUSIVE_PROCESS compute mode for MPS", "cards", len(d.cards))

	backoff := d.cfg.BackoffInitial
	for ctx.Err() == nil {
		if err := d.ensure(ctx); err != nil {
			d.setUp(ctx, false, err.Error())
			logger.Error(err, "MPS daemon is not running; retrying", "backoff", backoff)
			select {
			case <-ctx.Done():
			case <-d.cfg.Clock.After(backoff):
			}
			backoff = min(2*backoff, d.cfg.BackoffMax)
			continue
		}
		backoff = d.cfg.BackoffInitial
		d.setUp(ctx, true, "MPS daemon running")
		select {
		case <-ctx.Done():
		case <-d.cfg.Clock.After(d.cfg.HealthInterval):
		}
	}
	return d.shutdown(klog.NewContext(context.Background(), logger))
}

// ensure leaves a healthy daemon alone and starts one otherwise, with its
// per-card defaults.
func (d *Daemon) ensure(ctx context.Context) error {
	err := d.probe(ctx)
	if err == nil {
		return nil
	}
	if d.Up() {
		// Withdraw the cards before anything else: clients cannot reach a
		// daemon that does not answer.
		d.setUp(ctx, false, fmt.Sprintf("MPS daemon stopped answering: %v", err))
		klog.FromContext(ctx).Info("MPS daemon stopped answering; restarting it", "err", err)
	}
	if err := d.startDaemon(ctx); err != nil {
		return err
	}
	if err := d.probe(ctx); err != nil {
		return fmt.Errorf("MPS daemon started but does not answer: %w", err)
	}
	// Defaults for a client that sets no limit of its own: the whole of
	// each card. Every Gantry share container sets its limits through its
	// CDI device; the defaults only keep a process inside the card.
	if _, err := d.control(ctx, fmt.Sprintf("%s 100", cmdSetThreads)); err != nil {
		return err
	}
	for _, c := range d.cards {
		// The daemon runs with CUDA_DEVICE_ORDER=PCI_BUS_ID, so CUDA's
		// ordinal of a card is its NVML index.
		if _, err := d.control(ctx, fmt.Sprintf("%s %d %dM", cmdSetPinnedLimit, c.Index, c.MemoryMiB)); err != nil {
			return err
		}
	}
	klog.FromContext(ctx).Info("Started the MPS control daemon", "pipeDir", d.cfg.PipeDir, "logDir", d.cfg.LogDir)
	return nil
}

func (d *Daemon) setUp(ctx context.Context, up bool, reason string) {
	d.mu.Lock()
	changed := d.up != up
	d.up = up
	d.mu.Unlock()
	if changed || !up {
		d.listener(ctx, up, reason)
	}
}

// shutdown quits the daemon and restores the compute modes.
func (d *Daemon) shutdown(ctx context.Context) error {
	var errs []error
	if d.probe(ctx) == nil {
		if _, err := d.control(ctx, cmdQuit); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.restoreModes(); err != nil {
		errs = append(errs, err)
	}
	d.mu.Lock()
	d.up = false
	d.mu.Unlock()
	klog.FromContext(ctx).Info("Stopped the MPS control daemon and restored compute modes", "errors", len(errs))
	return errors.Join(errs...)
}
