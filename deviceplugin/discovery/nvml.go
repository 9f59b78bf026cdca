package discovery

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/gantry-dev/gantry/core/device"
)

// NVML discovers NVIDIA GPUs through an injected nvml.Interface: nvml.New()
// on a GPU node, a go-nvml mock server in tests.
type NVML struct {
	lib            nvml.Interface
	clock          clock.PassiveClock
	sysfsRoot      string
	includeMIG     bool
	ignoredXIDs    map[uint64]bool
	recoveryWindow time.Duration
	eventWait      time.Duration
	healthChecks   bool

	mu      sync.Mutex
	details []GPUDetail
}

// NVMLOption configures an NVML backend.
type NVMLOption func(*NVML)

// WithClock sets the clock the recovery window is measured on.
func WithClock(c clock.PassiveClock) NVMLOption { return func(n *NVML) { n.clock = c } }

// WithSysfsRoot sets where /sys is, for the NUMA fallback.
func WithSysfsRoot(root string) NVMLOption { return func(n *NVML) { n.sysfsRoot = root } }

// WithMIGDevices says whether GPUs in MIG mode are published as their MIG
// instances (the default: each instance is a device with isolation mig) or
// left out. Gantry does not create or change MIG layouts.
func WithMIGDevices(include bool) NVMLOption { return func(n *NVML) { n.includeMIG = include } }

// WithIgnoredXIDs adds XIDs to DefaultIgnoredXIDs.
func WithIgnoredXIDs(xids ...uint64) NVMLOption {
	return func(n *NVML) {
		for _, x := range xids {
			n.ignoredXIDs[x] = true
		}
	}
}

// WithRecoveryWindow sets how long an unhealthy GPU must go without a
// critical event, and answer queries, before it is Healthy again.
func WithRecoveryWindow(d time.Duration) NVMLOption { return func(n *NVML) { n.recoveryWindow = d } }

// WithEventWait sets how long one NVML event wait blocks; recovery is checked
// between waits.
func WithEventWait(d time.Duration) NVMLOption { return func(n *NVML) { n.eventWait = d } }

// WithHealthChecks turns XID health checking on (the default) or off.
func WithHealthChecks(on bool) NVMLOption { return func(n *NVML) { n.healthChecks = on } }

// NewNVML returns an NVML backend over lib.
func NewNVML(lib nvml.Interface, opts ...NVMLOption) *NVML {
	n := &NVML{
		lib:            lib,
		clock:          clock.RealClock{},
		sysfsRoot:      "/sys",
		ignoredXIDs:    map[uint64]bool{},
		recoveryWindow: 5 * time.Minute,
		eventWait:      5 * time.Second,
		healthChecks:   true,
		includeMIG:     true,
	}
	for _, x := range DefaultIgnoredXIDs {
		n.ignoredXIDs[x] = true
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

// Name implements Backend.
func (n *NVML) Name() string { return "nvml" }

// GPUDetail is what NVML reported about one GPU, for the discover command and
// for logs. It carries more than the inventory does.
type GPUDetail struct {
	Index      int    `json:"index"`
	UUID       string `json:"uuid"`
	Name       string `json:"name"`
	Model      string `json:"model"`
	MemoryMiB  int64  `json:"memoryMiB"`
	PCIBusID   string `json:"pciBusID,omitempty"`
	MIGEnabled bool   `json:"migEnabled"`
	NUMANode   int    `json:"numaNode"`
	// NUMASource is "nvml", "sysfs" or "unknown".
	NUMASource string `json:"numaSource"`
	// NVLinkPeers are the PCI bus IDs at the far end of active NVLinks
	// (GPUs or NVSwitches).
	NVLinkPeers []string `json:"nvlinkPeers,omitempty"`
	LinkGroup   string   `json:"linkGroup,omitempty"`
	// Skipped says why the GPU is not in the inventory; empty if it is.
	Skipped string `json:"skipped,omitempty"`
	// MIG lists the instances published instead of a GPU in MIG mode.
	MIG []MIGDetail `json:"mig,omitempty"`
}

// Details returns what the last Devices call found.
func (n *NVML) Details() []GPUDetail {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]GPUDetail(nil), n.details...)
}

// Runtime implements Backend: GPUs are named by UUID in NVIDIA_VISIBLE_DEVICES
// and the NVIDIA container runtime adds the device nodes.
func (n *NVML) Runtime() Runtime {
	out := Runtime{}
	for _, d := range n.Details() {
		if d.Skipped == "" && !d.MIGEnabled {
			out[d.UUID] = DeviceRuntime{VisibleDevicesEnv: "NVIDIA_VISIBLE_DEVICES", RuntimeID: d.UUID}
		}
		for _, m := range d.MIG {
			out[m.UUID] = DeviceRuntime{VisibleDevicesEnv: "NVIDIA_VISIBLE_DEVICES", RuntimeID: m.UUID}
		}
	}
	return out
}

// Devices implements Backend.
func (n *NVML) Devices() (device.Inventory, error) {
	if err := nvmlErr("Init", -1, n.lib.Init()); err != nil {
		return device.Inventory{}, err
	}
	defer n.lib.Shutdown()

	count, ret := n.lib.DeviceGetCount()
	if err := nvmlErr("DeviceGetCount", -1, ret); err != nil {
		return device.Inventory{}, err
	}
	details := make([]GPUDetail, 0, count)
	handles := make([]nvml.Device, 0, count)
	for i := 0; i < count; i++ {
		h, ret := n.lib.DeviceGetHandleByIndex(i)
		if err := nvmlErr("DeviceGetHandleByIndex", i, ret); err != nil {
			return device.Inventory{}, err
		}
		d, err := n.describe(i, h)
		if err != nil {
			return device.Inventory{}, err
		}
		if d.MIGEnabled && d.Skipped == "" {
			if d.MIG, err = n.migInstances(i, h, d.Model, count); err != nil {
				return device.Inventory{}, err
			}
		}
		details = append(details, d)
		handles = append(handles, h)
	}
	linkGroups(details)

	var inv device.Inventory
	for _, d := range details {
		if d.Skipped != "" {
			continue
		}
		if d.MIGEnabled {
			for _, m := range d.MIG {
				inv.Devices = append(inv.Devices, device.Device{
					ID: m.UUID, Index: m.Index, Kind: device.GPU, Vendor: "nvidia", Model: m.Model, MemoryMiB: m.MemoryMiB,
					Health: device.Healthy, NUMANode: d.NUMANode, Isolation: device.IsolationMIG,
					MIG: &device.MIG{Parent: d.UUID, Profile: m.Profile},
				})
			}
			continue
		}
		inv.Devices = append(inv.Devices, device.Device{
			ID: d.UUID, Index: d.Index, Kind: device.GPU, Vendor: "nvidia", Model: d.Model,
			MemoryMiB: d.MemoryMiB, Health: device.Healthy, NUMANode: d.NUMANode, LinkGroup: d.LinkGroup,
		})
	}
	if err := inv.Validate(); err != nil {
		return device.Inventory{}, fmt.Errorf("nvml reported an invalid inventory: %w", err)
	}
	n.mu.Lock()
	n.details = details
	n.mu.Unlock()
	return inv, nil
}

func (n *NVML) describe(i int, h nvml.Device) (GPUDetail, error) {
	d := GPUDetail{Index: i, NUMANode: device.NoNUMA, NUMASource: "unknown"}
	var ret nvml.Return
	if d.UUID, ret = h.GetUUID(); ret != nvml.SUCCESS {
		return d, nvmlErr("GetUUID", i, ret)
	}
	if d.Name, ret = h.GetName(); ret != nvml.SUCCESS {
		return d, nvmlErr("GetName", i, ret)
	}
	d.Model = ModelFromName(d.Name)
	mem, ret := h.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return d, nvmlErr("GetMemoryInfo", i, ret)
	}
	d.MemoryMiB = int64(mem.Total >> 20)
	mig, _, ret := h.GetMigMode()
	switch {
	case ret == nvml.SUCCESS:
		d.MIGEnabled = mig == nvml.DEVICE_MIG_ENABLE
	case !unsupported(ret):
		return d, nvmlErr("GetMigMode", i, ret)
	}
	if d.MIGEnabled && !n.includeMIG {
		d.Skipped = "MIG mode is enabled and MIG instances are not published (--mig-devices=false)"
	}
	pci, ret := h.GetPciInfo()
	if ret != nvml.SUCCESS && !unsupported(ret) {
		return d, nvmlErr("GetPciInfo", i, ret)
	}
	d.PCIBusID = busID(pci.BusId[:])
	d.NUMANode, d.NUMASource = n.numaNode(h, d.PCIBusID)
	d.NVLinkPeers = nvlinkPeers(h)
	return d, nil
}

// ModelFromName turns an NVML product name into a model label value:
// "NVIDIA A100-SXM4-40GB" becomes "A100-SXM4-40GB", "Tesla V100-SXM2-16GB"
// becomes "V100-SXM2-16GB", and spaces become dashes.
func ModelFromName(name string) string {
	s := strings.TrimSpace(name)
	for _, p := range []string{"NVIDIA ", "Tesla ", "GeForce ", "Quadro "} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.Join(strings.Fields(s), "-")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		}
	}
	out := strings.TrimLeft(b.String(), "._-")
	if len(out) > 63 {
		out = out[:63]
	}
	if out == "" {
		return "unknown"
	}
	return out
}

func busID(raw []int8) string {
	b := make([]byte, 0, len(raw))
	for _, c := range raw {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return normalizeBusID(string(b))
}

// normalizeBusID turns NVML's "00000000:07:00.0" into sysfs's "0000:07:00.0".
func normalizeBusID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	parts := strings.SplitN(id, ":", 2)
	if len(parts) == 2 && len(parts[0]) > 4 {
		id = parts[0][len(parts[0])-4:] + ":" + parts[1]
	}
	return id
}

// LogDetails logs what the last Devices call found, one line per GPU.
func (n *NVML) LogDetails(ctx context.Context) {
	logger := klog.FromContext(ctx)
	for _, d := range n.Details() {
		logger.Info("Discovered GPU", "index", d.Index, "uuid", d.UUID, "model", d.Model, "memoryMiB", d.MemoryMiB,
			"numaNode", d.NUMANode, "numaSource", d.NUMASource, "linkGroup", d.LinkGroup, "mig", d.MIGEnabled, "skipped", d.Skipped)
	}
}
