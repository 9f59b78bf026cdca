package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
)

// DeviceSource is the node's current devices; discovery.Store is one.
type DeviceSource interface {
	// Snapshot returns the inventory and a channel closed at its next change.
	Snapshot() (device.Inventory, <-chan struct{})
	Runtime() discovery.Runtime
}

// Config configures a Plugin.
type Config struct {
	Kind    device.Kind
	Devices DeviceSource
	// Steerer answers GetPreferredAllocation; nil applies only the
	// best-fit fallback.
	Steerer *Steerer
	// SocketDir is kubelet's device-plugin directory; the plugin's socket
	// is created there. Default pluginapi.DevicePluginPath.
	SocketDir string
	// KubeletSocket is kubelet's registration socket. Default
	// pluginapi.KubeletSocket.
	KubeletSocket string
	// WatchInterval is how often the sockets are checked for a kubelet
	// restart. Default 1s.
	WatchInterval time.Duration
	// OnAllocate, if set, is called after each successful Allocate (the
	// agent uses it to record allocations promptly).
	OnAllocate func()
	// CDI names the CDI devices of each container (the cdi strategy);
	// nil lists devices in environment variables (the envvar strategy,
	// which a pod can override).
	CDI     CDINamer
	Metrics *metrics.Metrics
}

// Plugin serves the device-plugin API for one resource.
type Plugin struct {
	pluginapi.UnimplementedDevicePluginServer

	cfg      Config
	resource string
	metrics  *metrics.Metrics
}

var _ pluginapi.DevicePluginServer = &Plugin{}

// New returns a Plugin for cfg.Kind's resource.
func New(cfg Config) (*Plugin, error) {
	if !cfg.Kind.Valid() {
		return nil, fmt.Errorf("unknown device kind %q", cfg.Kind)
	}
	if cfg.Devices == nil {
		return nil, fmt.Errorf("no device source")
	}
	if cfg.SocketDir == "" {
		cfg.SocketDir = pluginapi.DevicePluginPath
	}
	if cfg.KubeletSocket == "" {
		cfg.KubeletSocket = pluginapi.KubeletSocket
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = time.Second
	}
	return &Plugin{cfg: cfg, resource: string(contract.ResourceFor(cfg.Kind)), metrics: metrics.OrNew(cfg.Metrics)}, nil
}

// Resource returns the extended resource the plugin serves.
func (p *Plugin) Resource() string { return p.resource }

// Endpoint returns the plugin's socket file name, relative to SocketDir.
func (p *Plugin) Endpoint() string { return "gantry-" + string(p.cfg.Kind) + ".sock" }

// SocketPath returns the plugin's socket path.
func (p *Plugin) SocketPath() string { return filepath.Join(p.cfg.SocketDir, p.Endpoint()) }

// GetDevicePluginOptions implements pluginapi.DevicePluginServer.
func (p *Plugin) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return &pluginapi.DevicePluginOptions{GetPreferredAllocationAvailable: true}, nil
}

// PreStartContainer implements pluginapi.DevicePluginServer; it is never
// requested.
func (p *Plugin) PreStartContainer(context.Context, *pluginapi.PreStartContainerRequest) (*pluginapi.PreStartContainerResponse, error) {
	return &pluginapi.PreStartContainerResponse{}, nil
}

// GetPreferredAllocation implements pluginapi.DevicePluginServer (see
// Steerer).
func (p *Plugin) GetPreferredAllocation(ctx context.Context, req *pluginapi.PreferredAllocationRequest) (*pluginapi.PreferredAllocationResponse, error) {
	logger := klog.FromContext(ctx).WithValues("resource", p.resource)
	inv, _ := p.cfg.Devices.Snapshot()
	resp := &pluginapi.PreferredAllocationResponse{}
	taken := map[string]bool{}
	for _, cr := range req.GetContainerRequests() {
		available := make([]string, 0, len(cr.GetAvailableDeviceIDs()))
		for _, id := range cr.GetAvailableDeviceIDs() {
			if !taken[id] {
				available = append(available, id)
			}
		}
		d := p.cfg.Steerer.Prefer(ctx, inv, available, cr.GetMustIncludeDeviceIDs(), int(cr.GetAllocationSize()))
		for _, id := range d.IDs {
			taken[id] = true
		}
		p.metrics.Steering.WithLabelValues(p.resource, d.Source).Inc()
		if loggerV := logger.V(4); loggerV.Enabled() {
			kv := []any{"size", cr.GetAllocationSize(), "available", len(available), "source", d.Source}
			if d.Intent != nil {
				kv = append(kv, "pod", d.Intent.Pod, "container", d.Intent.Container, "inAdmission", d.Intent.InAdmission)
			}
			loggerV.Info("Preferred allocation", kv...)
		}
		resp.ContainerResponses = append(resp.ContainerResponses, &pluginapi.ContainerPreferredAllocationResponse{DeviceIDs: d.IDs})
	}
	return resp, nil
}

// Allocate implements pluginapi.DevicePluginServer. The answer depends only
// on the slot IDs of each request (see ContainerResponse); a bad request
// fails the whole call with InvalidArgument and a message naming the cause,
// which kubelet reports on the pod.
func (p *Plugin) Allocate(ctx context.Context, req *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	logger := klog.FromContext(ctx).WithValues("resource", p.resource)
	inv, _ := p.cfg.Devices.Snapshot()
	rt := p.cfg.Devices.Runtime()
	resp := &pluginapi.AllocateResponse{}
	for i, cr := range req.GetContainerRequests() {
		r, err := ContainerResponse(p.cfg.Kind, cr.GetDevicesIds(), inv, rt, p.cfg.CDI)
		if err != nil {
			p.metrics.Allocations.WithLabelValues(p.resource, metrics.ResultError).Inc()
			logger.Error(err, "Rejecting allocation", "request", i, "slots", len(cr.GetDevicesIds()))
			return nil, status.Errorf(codes.InvalidArgument, "%s: container request %d: %v", p.resource, i, err)
		}
		p.metrics.Allocations.WithLabelValues(p.resource, metrics.ResultSuccess).Inc()
		logger.V(2).Info("Allocated", "devices", r.Annotations[AnnotationDevices])
		resp.ContainerResponses = append(resp.ContainerResponses, r)
	}
	if p.cfg.OnAllocate != nil {
		p.cfg.OnAllocate()
	}
	return resp, nil
}
