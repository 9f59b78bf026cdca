package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/core/share"
)

// Static reads devices from a DeviceInventory file. It is the NPU backend
// for vendors without a Go library, and the backend of test and KWOK nodes.
// Watch re-reads the file and reports health changes written to it.
type Static struct {
	path     string
	clock    clock.WithTicker
	interval time.Duration

	mu   sync.Mutex
	file *DeviceInventoryFile
}

// NewStatic returns a backend over the file at path, polled every interval
// (on c) for health changes.
func NewStatic(path string, c clock.WithTicker, interval time.Duration) *Static {
	if c == nil {
		c = clock.RealClock{}
	}
	return &Static{path: path, clock: c, interval: interval}
}

// Name implements Backend.
func (s *Static) Name() string { return "static" }

// Devices implements Backend.
func (s *Static) Devices() (device.Inventory, error) {
	f, err := ReadInventoryFile(s.path)
	if err != nil {
		return device.Inventory{}, err
	}
	s.mu.Lock()
	s.file = f
	s.mu.Unlock()
	return f.Inventory(), nil
}

// Runtime implements Backend.
func (s *Static) Runtime() Runtime {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Runtime{}
	if s.file == nil {
		return out
	}
	for _, d := range s.file.Spec.Devices {
		env := d.VisibleDevicesEnv
		if env == "" {
			env = s.file.Spec.VisibleDevicesEnv
		}
		out[d.ID] = DeviceRuntime{VisibleDevicesEnv: env, RuntimeID: d.RuntimeID, Paths: d.DevicePaths}
	}
	return out
}

// Watch implements Backend: it polls the file and reports every device whose
// health in the file changed. A file that stops decoding is logged and
// ignored; the last good contents stay in force.
func (s *Static) Watch(ctx context.Context) (<-chan HealthEvent, error) {
	out := make(chan HealthEvent, 16)
	go func() {
		defer close(out)
		logger := klog.FromContext(ctx)
		t := s.clock.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
			}
			f, err := ReadInventoryFile(s.path)
			if err != nil {
				logger.Error(err, "Ignoring unreadable static inventory; keeping the last good one", "path", s.path)
				continue
			}
			for _, ev := range s.diff(ctx, f) {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func (s *Static) diff(ctx context.Context, f *DeviceInventoryFile) []HealthEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := map[string]device.Health{}
	if s.file != nil {
		for _, d := range s.file.Inventory().Devices {
			old[d.ID] = d.Health
		}
	}
	var evs []HealthEvent
	for _, d := range f.Inventory().Devices {
		h, known := old[d.ID]
		if !known {
			klog.FromContext(ctx).Info("Static inventory lists a new device; restart the agent to serve it", "device", d.ID)
			continue
		}
		if h != d.Health {
			evs = append(evs, HealthEvent{DeviceID: d.ID, Health: d.Health, Reason: "set in " + filepath.Base(s.path), Time: s.clock.Now()})
		}
	}
	s.file = f
	return evs
}

// ReadInventoryFile reads, strictly decodes, defaults and validates a
// DeviceInventory file. Errors name the file and the field path.
func ReadInventoryFile(path string) (*DeviceInventoryFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("static inventory: %w", err)
	}
	f, err := DecodeInventoryFile(b)
	if err != nil {
		return nil, fmt.Errorf("static inventory %s: %w", path, err)
	}
	return f, nil
}

// DecodeInventoryFile strictly decodes YAML or JSON: unknown and duplicate
// fields are errors, as is anything that fails validation.
func DecodeInventoryFile(b []byte) (*DeviceInventoryFile, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("empty file")
	}
	j, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	f := &DeviceInventoryFile{}
	strict, err := sigsjson.UnmarshalStrict(j, f)
	if err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("decoding: %w", errors.Join(strict...))
	}
	setStaticDefaults(f)
	if errs := validateStatic(f); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return f, nil
}

func setStaticDefaults(f *DeviceInventoryFile) {
	for i := range f.Spec.Devices {
		d := &f.Spec.Devices[i]
		if d.Index == nil {
			d.Index = ptr(i)
		}
		if d.NUMANode == nil {
			d.NUMANode = ptr(device.NoNUMA)
		}
		if d.Health == "" {
			d.Health = device.Healthy
		}
	}
}

func validateStatic(f *DeviceInventoryFile) field.ErrorList {
	var errs field.ErrorList
	if f.APIVersion != StaticAPIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), f.APIVersion, []string{StaticAPIVersion}))
	}
	if f.Kind != StaticKind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), f.Kind, []string{StaticKind}))
	}
	devs := field.NewPath("spec", "devices")
	if len(f.Spec.Devices) == 0 {
		errs = append(errs, field.Required(devs, "list at least one device"))
	}
	ids, idx := map[string]bool{}, map[int]bool{}
	for i, d := range f.Spec.Devices {
		p := devs.Index(i)
		switch {
		case d.ID == "":
			errs = append(errs, field.Required(p.Child("id"), "a stable device ID"))
		case ids[d.ID]:
			errs = append(errs, field.Duplicate(p.Child("id"), d.ID))
		}
		ids[d.ID] = true
		if *d.Index < 0 {
			errs = append(errs, field.Invalid(p.Child("index"), *d.Index, "must not be negative"))
		} else if idx[*d.Index] {
			errs = append(errs, field.Duplicate(p.Child("index"), *d.Index))
		}
		idx[*d.Index] = true
		if !d.Kind.Valid() {
			errs = append(errs, field.NotSupported(p.Child("kind"), d.Kind, []string{string(device.GPU), string(device.NPU)}))
		}
		if _, err := share.ParseModels(d.Model); err != nil || d.Model == "" {
			msg := "a model name (letters, digits, '.', '_' and '-')"
			errs = append(errs, field.Invalid(p.Child("model"), d.Model, msg))
		}
		if d.MemoryMiB <= 0 {
			errs = append(errs, field.Invalid(p.Child("memoryMiB"), d.MemoryMiB, "must be positive"))
		}
		if *d.NUMANode < device.NoNUMA {
			errs = append(errs, field.Invalid(p.Child("numaNode"), *d.NUMANode, "must be -1 (unknown) or a NUMA node"))
		}
		if d.Health != device.Healthy && d.Health != device.Unhealthy {
			errs = append(errs, field.NotSupported(p.Child("health"), d.Health, []string{string(device.Healthy), string(device.Unhealthy)}))
		}
		for j, path := range d.DevicePaths {
			if !filepath.IsAbs(path) {
				errs = append(errs, field.Invalid(p.Child("devicePaths").Index(j), path, "must be an absolute path"))
			}
		}
	}
	return errs
}

// Inventory returns the devices of a decoded and defaulted file.
func (f *DeviceInventoryFile) Inventory() device.Inventory {
	var inv device.Inventory
	for _, d := range f.Spec.Devices {
		inv.Devices = append(inv.Devices, device.Device{
			ID: d.ID, Index: *d.Index, Kind: d.Kind, Vendor: d.Vendor, Model: d.Model,
			MemoryMiB: d.MemoryMiB, Health: d.Health, NUMANode: *d.NUMANode, LinkGroup: d.LinkGroup,
		})
	}
	inv.Sort()
	return inv
}

func ptr[T any](v T) *T { return &v }
