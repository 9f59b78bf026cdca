package dra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/dynamic-resource-allocation/kubeletplugin"
	"k8s.io/dynamic-resource-allocation/resourceslice"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
)

// Config configures the driver.
type Config struct {
	// NodeName is the node the driver runs on; its pool has the same name.
	NodeName string
	// KubeClient publishes ResourceSlices and reads claims.
	KubeClient kubernetes.Interface
	// Devices are the node's cards.
	Devices []device.Device
	// CDI names the CDI devices of each share; its specs must have been
	// synced for Devices.
	CDI *cdi.Writer
	// PluginDataDir holds the driver's socket and checkpoint (kubelet's
	// default: /var/lib/kubelet/plugins/gpu.gantry.dev).
	PluginDataDir string
	// RegistrarDir is where kubelet looks for plugin registration sockets
	// (default /var/lib/kubelet/plugins_registry).
	RegistrarDir string
}

// Driver is the kubelet plugin of gpu.gantry.dev.
type Driver struct {
	cfg        Config
	checkpoint string

	mu       sync.Mutex
	devices  map[string]device.Device // by DRA device name
	prepared map[types.UID]preparedClaim
	helper   *kubeletplugin.Helper
}

var _ kubeletplugin.DRAPlugin = &Driver{}

// New loads the driver's checkpoint. Call Start to serve kubelet.
func New(cfg Config) (*Driver, error) {
	if cfg.NodeName == "" || cfg.KubeClient == nil || cfg.CDI == nil || cfg.PluginDataDir == "" {
		return nil, errors.New("dra driver: NodeName, KubeClient, CDI and PluginDataDir must be set")
	}
	if err := (device.Inventory{Devices: cfg.Devices}).Validate(); err != nil {
		return nil, fmt.Errorf("dra driver: %w", err)
	}
	for _, dir := range []string{cfg.PluginDataDir, cfg.RegistrarDir} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("dra driver: %w", err)
		}
	}
	d := &Driver{cfg: cfg, checkpoint: filepath.Join(cfg.PluginDataDir, CheckpointFile), devices: map[string]device.Device{}}
	for _, dev := range cfg.Devices {
		d.devices[contract.DRADeviceName(dev)] = dev
	}
	prepared, err := loadCheckpoint(d.checkpoint)
	if err != nil {
		return nil, fmt.Errorf("dra driver: %w", err)
	}
	d.prepared = prepared
	return d, nil
}

// Start serves kubelet's DRA and registration gRPC services and publishes
// the node's ResourceSlice.
func (d *Driver) Start(ctx context.Context) error {
	opts := []kubeletplugin.Option{
		kubeletplugin.DriverName(contract.DRADriver),
		kubeletplugin.NodeName(d.cfg.NodeName),
		kubeletplugin.KubeClient(d.cfg.KubeClient),
		kubeletplugin.PluginDataDirectoryPath(d.cfg.PluginDataDir),
	}
	if d.cfg.RegistrarDir != "" {
		opts = append(opts, kubeletplugin.RegistrarDirectoryPath(d.cfg.RegistrarDir))
	}
	h, err := kubeletplugin.Start(ctx, d, opts...)
	if err != nil {
		return fmt.Errorf("starting the kubelet plugin: %w", err)
	}
	d.mu.Lock()
	d.helper = h
	d.mu.Unlock()
	return d.publish(ctx)
}

// Stop stops serving kubelet. Published slices stay: kubelet removes them
// when the driver stays unregistered.
func (d *Driver) Stop() {
	d.mu.Lock()
	h := d.helper
	d.helper = nil
	d.mu.Unlock()
	if h != nil {
		h.Stop()
	}
}

// SetHealth marks a card healthy or not and republishes the slice, where an
// unhealthy card carries a NoSchedule taint.
func (d *Driver) SetHealth(ctx context.Context, id string, h device.Health) error {
	d.mu.Lock()
	found := false
	for name, dev := range d.devices {
		if dev.ID == id {
			dev.Health = h
			d.devices[name] = dev
			found = true
		}
	}
	d.mu.Unlock()
	if !found {
		return fmt.Errorf("dra driver: no device %q", id)
	}
	return d.publish(ctx)
}

func (d *Driver) publish(ctx context.Context) error {
	d.mu.Lock()
	h := d.helper
	devices := d.sliceDevicesLocked()
	d.mu.Unlock()
	if h == nil {
		return errors.New("dra driver: not started")
	}
	res := resourceslice.DriverResources{Pools: map[string]resourceslice.Pool{
		d.cfg.NodeName: {Slices: []resourceslice.Slice{{Devices: devices}}},
	}}
	if err := h.PublishResources(ctx, res); err != nil {
		return fmt.Errorf("publishing ResourceSlices: %w", err)
	}
	klog.FromContext(ctx).V(2).Info("Published devices", "driver", contract.DRADriver, "devices", len(devices))
	return nil
}

func (d *Driver) sliceDevicesLocked() []resourceapi.Device {
	devs := make([]device.Device, 0, len(d.devices))
	for _, dev := range d.devices {
		devs = append(devs, dev)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Index < devs[j].Index })
	out := make([]resourceapi.Device, len(devs))
	for i, dev := range devs {
		out[i] = contract.DRADevice(dev)
	}
	return out
}

// PrepareResourceClaims returns the CDI devices of each claim's shares on
// this node. A claim prepared before (by this process or one before it) gets
// the same answer again.
func (d *Driver) PrepareResourceClaims(ctx context.Context, claims []*resourceapi.ResourceClaim) (map[types.UID]kubeletplugin.PrepareResult, error) {
	logger := klog.FromContext(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[types.UID]kubeletplugin.PrepareResult, len(claims))
	var added []types.UID
	for _, c := range claims {
		p, ok := d.prepared[c.UID]
		if !ok {
			var err error
			p, err = d.prepareLocked(c)
			if err != nil {
				logger.Error(err, "Cannot prepare claim", "claim", klog.KObj(c))
				out[c.UID] = kubeletplugin.PrepareResult{Err: err}
				continue
			}
			d.prepared[c.UID] = p
			added = append(added, c.UID)
			logger.V(2).Info("Prepared claim", "claim", klog.KObj(c), "devices", len(p.Devices))
		}
		out[c.UID] = result(p)
	}
	if len(added) > 0 {
		if err := saveCheckpoint(d.checkpoint, d.prepared); err != nil {
			// Kubelet retries; what this call added is not handed out.
			for _, uid := range added {
				delete(d.prepared, uid)
			}
			return nil, err
		}
	}
	return out, nil
}

func result(p preparedClaim) kubeletplugin.PrepareResult {
	var r kubeletplugin.PrepareResult
	for _, pd := range p.Devices {
		r.Devices = append(r.Devices, kubeletplugin.Device{
			Requests: []string{pd.Request}, PoolName: pd.Pool, DeviceName: pd.Device, CDIDeviceIDs: pd.CDI, ShareID: pd.ShareID,
		})
	}
	return r
}

// prepareLocked turns a claim's results for this driver into shares and
// their CDI devices, refusing results for other nodes or unknown cards and
// shares that would take a card over 100 percent with what is prepared.
func (d *Driver) prepareLocked(c *resourceapi.ResourceClaim) (preparedClaim, error) {
	p := preparedClaim{Namespace: c.Namespace, Name: c.Name}
	if c.Status.Allocation == nil {
		return p, fmt.Errorf("claim %s/%s is not allocated", c.Namespace, c.Name)
	}
	used := d.usedLocked()
	for _, r := range c.Status.Allocation.Devices.Results {
		if r.Driver != contract.DRADriver {
			continue
		}
		if r.Pool != d.cfg.NodeName {
			return p, fmt.Errorf("claim %s/%s: request %q holds device %q of pool %q, but this node's pool is %q", c.Namespace, c.Name, r.Request, r.Device, r.Pool, d.cfg.NodeName)
		}
		dev, ok := d.devices[r.Device]
		if !ok {
			return p, fmt.Errorf("claim %s/%s: request %q holds device %q, which this node does not have", c.Namespace, c.Name, r.Request, r.Device)
		}
		units, err := contract.DRAUnits(r)
		if err != nil {
			return p, fmt.Errorf("claim %s/%s: %w", c.Namespace, c.Name, err)
		}
		if used[dev.ID]+units > device.UnitsPerDevice {
			return p, fmt.Errorf("claim %s/%s: request %q asks %d%% of device %q, which has %d%% prepared already", c.Namespace, c.Name, r.Request, units, r.Device, used[dev.ID])
		}
		used[dev.ID] += units
		ids, err := d.cfg.CDI.Devices([]cdi.Share{{Device: dev, Units: units}})
		if err != nil {
			return p, fmt.Errorf("claim %s/%s: %w", c.Namespace, c.Name, err)
		}
		p.Devices = append(p.Devices, preparedDevice{
			Request: r.Request, Pool: r.Pool, Device: r.Device, ShareID: r.ShareID, DeviceID: dev.ID, Units: units, CDI: ids,
		})
	}
	return p, nil
}

// usedLocked returns the units prepared per card.
func (d *Driver) usedLocked() map[string]int {
	used := map[string]int{}
	for _, p := range d.prepared {
		for _, pd := range p.Devices {
			used[pd.DeviceID] += pd.Units
		}
	}
	return used
}

// UnprepareResourceClaims forgets the claims. Claims not prepared here are
// not an error: kubelet may ask twice.
func (d *Driver) UnprepareResourceClaims(ctx context.Context, claims []kubeletplugin.NamespacedObject) (map[types.UID]error, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[types.UID]error, len(claims))
	removed := map[types.UID]preparedClaim{}
	for _, c := range claims {
		if p, ok := d.prepared[c.UID]; ok {
			removed[c.UID] = p
			delete(d.prepared, c.UID)
		}
		out[c.UID] = nil
	}
	if len(removed) > 0 {
		if err := saveCheckpoint(d.checkpoint, d.prepared); err != nil {
			for uid, p := range removed {
				d.prepared[uid] = p
			}
			return nil, err
		}
		klog.FromContext(ctx).V(2).Info("Unprepared claims", "claims", len(removed))
	}
	return out, nil
}

// HandleError logs background errors (publishing slices); the slice
// controller retries the recoverable ones.
func (d *Driver) HandleError(ctx context.Context, err error, msg string) {
	utilruntime.HandleErrorWithContext(ctx, err, msg)
}

// WatchHealthStatus is not served: health reaches the scheduler as device
// taints in the published slice.
func (d *Driver) WatchHealthStatus(context.Context, chan<- kubeletplugin.DeviceHealthReport) error {
	return kubeletplugin.ErrHealthNotSupported
}

// Prepared returns the UIDs of the claims the driver holds prepared.
func (d *Driver) Prepared() []types.UID {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]types.UID, 0, len(d.prepared))
	for uid := range d.prepared {
		out = append(out, uid)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
