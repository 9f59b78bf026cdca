package discovery

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
)

// Store is the node's current inventory: what the backends discovered, with
// health events applied. Readers take a Snapshot and wait on its channel,
// which closes at the next change.
type Store struct {
	backends []Backend
	metrics  *metrics.Metrics

	mu      sync.Mutex
	inv     device.Inventory
	reasons map[string]string
	runtime Runtime
	changed chan struct{}
	// backend is each device's health as its backend last reported it;
	// withdrawn holds, per device, the components (e.g. "mps") that
	// withdrew it and why. A device is Healthy when its backend says so
	// and nothing withdraws it.
	backend   map[string]device.Health
	withdrawn map[string]map[string]string
}

// NewStore discovers the devices of every backend and merges them. Device
// IDs and indices must be unique across backends.
func NewStore(backends []Backend, m *metrics.Metrics) (*Store, error) {
	s := &Store{backends: backends, metrics: metrics.OrNew(m), reasons: map[string]string{}, runtime: Runtime{}, changed: make(chan struct{}),
		backend: map[string]device.Health{}, withdrawn: map[string]map[string]string{}}
	for _, b := range backends {
		inv, err := b.Devices()
		if err != nil {
			return nil, fmt.Errorf("discovering devices with backend %s: %w", b.Name(), err)
		}
		s.inv.Devices = append(s.inv.Devices, inv.Devices...)
		for id, rt := range b.Runtime() {
			s.runtime[id] = rt
		}
	}
	if err := s.inv.Validate(); err != nil {
		return nil, fmt.Errorf("merged inventory: %w", err)
	}
	s.inv.Sort()
	for _, d := range s.inv.Devices {
		s.backend[d.ID] = d.Health
		s.setGauge(d)
	}
	return s, nil
}

// SetIsolation sets the isolation of the devices with the given IDs, as a
// component that enforces it (the MPS daemon) starts. It reports whether
// anything changed.
func (s *Store) SetIsolation(level device.Isolation, ids ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	changed := false
	for i := range s.inv.Devices {
		d := &s.inv.Devices[i]
		if want[d.ID] && d.Isolation != level {
			d.Isolation = level
			changed = true
		}
	}
	if changed {
		s.signal()
	}
	return changed
}

// Withdraw marks a device Unhealthy on behalf of component (e.g. "mps",
// whose daemon is down) until Restore; backend health events do not bring
// it back meanwhile. It reports whether the device's health changed.
func (s *Store) Withdraw(ctx context.Context, id, component, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.backend[id]; !ok {
		return false
	}
	if s.withdrawn[id] == nil {
		s.withdrawn[id] = map[string]string{}
	}
	s.withdrawn[id][component] = reason
	return s.update(ctx, id, reason)
}

// Restore ends component's withdrawal of a device. It reports whether the
// device's health changed.
func (s *Store) Restore(ctx context.Context, id, component, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.withdrawn[id][component]; !ok {
		return false
	}
	delete(s.withdrawn[id], component)
	return s.update(ctx, id, reason)
}

// update recomputes one device's health from its backend's and its
// withdrawals. Called with s.mu held.
func (s *Store) update(ctx context.Context, id, reason string) bool {
	want := s.backend[id]
	if len(s.withdrawn[id]) > 0 {
		want = device.Unhealthy
	}
	for i := range s.inv.Devices {
		d := &s.inv.Devices[i]
		if d.ID != id {
			continue
		}
		if d.Health == want {
			return false
		}
		klog.FromContext(ctx).Info("Device health changed", "device", d.ID, "index", d.Index, "from", d.Health, "to", want, "reason", reason)
		d.Health = want
		s.reasons[d.ID] = reason
		s.metrics.HealthTransitions.WithLabelValues(string(d.Kind), string(want)).Inc()
		s.setGauge(*d)
		s.signal()
		return true
	}
	return false
}

// signal wakes every Snapshot reader. Called with s.mu held.
func (s *Store) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Snapshot returns a copy of the inventory and a channel that is closed at
// the next change.
func (s *Store) Snapshot() (device.Inventory, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return device.Inventory{Devices: append([]device.Device(nil), s.inv.Devices...)}, s.changed
}

// Runtime returns the merged runtime view of every device.
func (s *Store) Runtime() Runtime {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(Runtime, len(s.runtime))
	for id, rt := range s.runtime {
		out[id] = rt
	}
	return out
}

// Reason returns why the device last changed health.
func (s *Store) Reason(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reasons[id]
}

// Apply records a health event and reports whether it changed anything.
// Events for unknown devices are ignored.
func (s *Store) Apply(ctx context.Context, ev HealthEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.backend[ev.DeviceID]; !ok {
		klog.FromContext(ctx).V(4).Info("Ignoring health event for an unknown device", "device", ev.DeviceID)
		return false
	}
	s.backend[ev.DeviceID] = ev.Health
	return s.update(ctx, ev.DeviceID, ev.Reason)
}

// Run watches every backend and applies its events until ctx is done. It
// returns an error when a backend cannot start watching (after stopping the
// watches already started) or when a backend's channel closes while ctx is
// not done: health monitoring must not stop silently.
func (s *Store) Run(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chans := make([]<-chan HealthEvent, 0, len(s.backends))
	for _, b := range s.backends {
		ch, err := b.Watch(wctx)
		if err != nil {
			// Stop the watches already started and wait for them to end.
			cancel()
			for _, c := range chans {
				for range c {
				}
			}
			return fmt.Errorf("watching health with backend %s: %w", b.Name(), err)
		}
		chans = append(chans, ch)
	}
	errs := make(chan error, len(chans))
	var wg sync.WaitGroup
	for i, ch := range chans {
		name := s.backends[i].Name()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range ch {
				s.Apply(ctx, ev)
			}
			if wctx.Err() == nil {
				errs <- fmt.Errorf("health watch of backend %s stopped", name)
			}
		}()
	}
	go func() {
		wg.Wait()
		close(errs)
	}()
	err := <-errs
	cancel()
	wg.Wait()
	return err
}

func (s *Store) setGauge(d device.Device) {
	v := 0.0
	if d.Healthy() {
		v = 1
	}
	s.metrics.DeviceHealthy.WithLabelValues(d.ID, string(d.Kind), d.Model).Set(v)
}
