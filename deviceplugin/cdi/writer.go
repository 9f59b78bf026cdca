package cdi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	cdiapi "tags.cncf.io/container-device-interface/pkg/cdi"

	"github.com/gantry-dev/gantry/core/device"
)

// DefaultDir is where Gantry writes its specs: the runtimes' transient CDI
// directory (containerd and CRI-O read /etc/cdi and /var/run/cdi).
const DefaultDir = "/var/run/cdi"

// ErrNoToolkitDevice is wrapped by Devices for an NVIDIA GPU that no NVIDIA
// Container Toolkit CDI spec lists.
var ErrNoToolkitDevice = errors.New("no NVIDIA Container Toolkit CDI device")

// Config configures a Writer.
type Config struct {
	// Dir is where Gantry's specs are written; default DefaultDir.
	Dir string
	// ToolkitDirs are searched for the NVIDIA Container Toolkit's spec;
	// default the CDI library's default directories.
	ToolkitDirs []string
	// MPS is the daemon's directories, mounted into share containers of
	// cards whose isolation is mps; nil when no card uses MPS.
	MPS *MPS
}

// Writer keeps one CDI spec per device in Config.Dir and names the CDI
// devices of a container's shares. It is safe for concurrent use.
type Writer struct {
	cfg     Config
	own     *cdiapi.Cache
	toolkit *cdiapi.Cache

	mu      sync.Mutex
	names   map[string]string // device ID -> toolkit's qualified name
	missing map[string]bool   // NVIDIA GPUs the toolkit does not list
	written map[string]string // device ID -> file name of its spec on disk
}

// New returns a Writer. It creates Dir if needed.
func New(cfg Config) (*Writer, error) {
	if cfg.Dir == "" {
		cfg.Dir = DefaultDir
	}
	if len(cfg.ToolkitDirs) == 0 {
		cfg.ToolkitDirs = cdiapi.DefaultSpecDirs
	}
	if cfg.MPS != nil && (!filepath.IsAbs(cfg.MPS.PipeDir) || !filepath.IsAbs(cfg.MPS.ShmDir)) {
		return nil, fmt.Errorf("MPS pipe and shm directories must be absolute paths, got %q and %q", cfg.MPS.PipeDir, cfg.MPS.ShmDir)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating CDI spec directory: %w", err)
	}
	own, err := cdiapi.NewCache(cdiapi.WithSpecDirs(cfg.Dir), cdiapi.WithAutoRefresh(false))
	if err != nil {
		return nil, fmt.Errorf("CDI cache over %s: %w", cfg.Dir, err)
	}
	// A foreign spec that does not parse hides only its own devices (the
	// cache records the error and keeps every other spec).
	toolkit, err := cdiapi.NewCache(cdiapi.WithSpecDirs(cfg.ToolkitDirs...), cdiapi.WithAutoRefresh(false))
	if err != nil {
		return nil, fmt.Errorf("CDI cache over %s: %w", strings.Join(cfg.ToolkitDirs, ", "), err)
	}
	return &Writer{cfg: cfg, own: own, toolkit: toolkit, names: map[string]string{}, missing: map[string]bool{}, written: map[string]string{}}, nil
}

// Dir returns where the specs are written.
func (w *Writer) Dir() string { return w.cfg.Dir }

// Sync makes Dir hold exactly one valid spec per card: it writes each (the
// library validates it and replaces the file atomically) and removes the
// specs Gantry wrote for devices no longer among cards. It resolves each
// NVIDIA GPU to the toolkit's CDI device; a GPU the toolkit does not list is
// still written, and Devices refuses it with ErrNoToolkitDevice.
func (w *Writer) Sync(cards []Card) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.toolkit != nil {
		// Errors of foreign specs only hide their own devices; they are
		// reported by Devices for the cards they concern.
		_ = w.toolkit.Refresh()
	}
	keep := map[string]bool{}
	var errs []error
	for _, c := range cards {
		if err := validateID(c.Device); err != nil {
			errs = append(errs, err)
			continue
		}
		name := w.resolveToolkit(c)
		delete(w.names, c.Device.ID)
		delete(w.missing, c.Device.ID)
		switch {
		case name != "":
			w.names[c.Device.ID] = name
		case needsToolkit(c.Device):
			w.missing[c.Device.ID] = true
		}
		var mps *MPS
		if c.Device.Isolation == device.IsolationMPS {
			if w.cfg.MPS == nil {
				errs = append(errs, fmt.Errorf("device %q: isolation mps but no MPS directories configured", c.Device.ID))
				continue
			}
			mps = w.cfg.MPS
		}
		if err := w.own.WriteSpec(buildSpec(c, mps, name != ""), specName(c.Device)+".json"); err != nil {
			errs = append(errs, fmt.Errorf("writing CDI spec of device %q: %w", c.Device.ID, err))
			continue
		}
		file := specName(c.Device) + ".json"
		keep[file] = true
		w.written[c.Device.ID] = file
	}
	if err := w.removeStale(keep); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeStale deletes the specs Gantry wrote that are not in keep.
func (w *Writer) removeStale(keep map[string]bool) error {
	entries, err := os.ReadDir(w.cfg.Dir)
	if err != nil {
		return fmt.Errorf("listing CDI spec directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		n := e.Name()
		if keep[n] || !strings.HasPrefix(n, Vendor+"-") || filepath.Ext(n) != ".json" {
			continue
		}
		if err := os.Remove(filepath.Join(w.cfg.Dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing stale CDI spec: %w", err))
		}
	}
	for id, file := range w.written {
		if !keep[file] {
			delete(w.written, id)
			delete(w.names, id)
			delete(w.missing, id)
		}
	}
	return errors.Join(errs...)
}

// needsToolkit reports whether a device can only reach a container through
// the toolkit's CDI device (its driver libraries and device nodes).
func needsToolkit(d device.Device) bool { return d.Kind == device.GPU && d.Vendor == "nvidia" }

func (w *Writer) resolveToolkit(c Card) string {
	if w.toolkit == nil || c.Device.Kind != device.GPU {
		return ""
	}
	names := c.ToolkitNames
	if len(names) == 0 {
		names = []string{c.Device.ID, strconv.Itoa(c.Device.Index)}
	}
	for _, n := range names {
		q := ToolkitKind + "=" + n
		if w.toolkit.GetDevice(q) != nil {
			return q
		}
	}
	return ""
}

// Devices returns the qualified CDI devices of one container's shares: the
// toolkit's device of each card (when it has one) and Gantry's device of
// each share, in the order of shares. It depends on the shares alone (and
// on what the last Sync found), never on the pod.
func (w *Writer) Devices(shares []Share) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, s := range shares {
		if w.written[s.Device.ID] == "" {
			return nil, fmt.Errorf("device %q has no CDI spec in %s", s.Device.ID, w.cfg.Dir)
		}
		if w.missing[s.Device.ID] {
			return nil, fmt.Errorf("GPU %q: %w in %s (looked up as %s=<uuid> and =<index>); generate one with "+
				"`nvidia-ctk cdi generate --output=/var/run/cdi/nvidia.yaml --device-name-strategy=uuid`, or use the envvar strategy",
				s.Device.ID, ErrNoToolkitDevice, strings.Join(w.cfg.ToolkitDirs, ", "), ToolkitKind)
		}
		if n := w.names[s.Device.ID]; n != "" {
			out = append(out, n)
		}
		out = append(out, QualifiedName(s))
	}
	return out, nil
}

// Specs returns the paths of the specs Gantry has written, sorted.
func (w *Writer) Specs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, file := range w.written {
		out = append(out, filepath.Join(w.cfg.Dir, file))
	}
	sort.Strings(out)
	return out
}
