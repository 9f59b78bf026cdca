package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/klog/v2"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"

	"github.com/gantry-dev/gantry/deviceplugin/metrics"
)

// registerTimeout bounds one Register call; kubelet dials back to the
// plugin inside it.
const registerTimeout = 10 * time.Second

// Run serves the plugin until ctx is done. It waits for kubelet's socket,
// serves on SocketPath, registers, and starts over whenever kubelet restarts
// (kubelet's socket is replaced, or kubelet's start-up clean-up removes the
// plugin's socket) or the gRPC server stops. Slot IDs are derived from device
// IDs, so kubelet's checkpoint stays valid across both restarts.
func (p *Plugin) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("resource", p.resource)
	ctx = klog.NewContext(ctx, logger)
	for {
		if err := p.waitForKubelet(ctx); err != nil {
			return nil
		}
		srv, served, err := p.serve()
		if err != nil {
			return err
		}
		own, _ := os.Stat(p.SocketPath())
		kubelet, _ := os.Stat(p.cfg.KubeletSocket)
		reason := p.registerAndWatch(ctx, own, kubelet, served)
		srv.Stop()
		if cur, err := os.Stat(p.SocketPath()); err == nil && own != nil && os.SameFile(cur, own) {
			_ = os.Remove(p.SocketPath())
		}
		if ctx.Err() != nil {
			logger.Info("Device plugin stopped")
			return nil
		}
		logger.Info("Restarting device plugin server", "reason", reason)
	}
}

func (p *Plugin) waitForKubelet(ctx context.Context) error {
	t := time.NewTicker(p.cfg.WatchInterval)
	defer t.Stop()
	for {
		if _, err := os.Stat(p.cfg.KubeletSocket); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (p *Plugin) serve() (*grpc.Server, <-chan error, error) {
	if err := os.Remove(p.SocketPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("removing stale socket: %w", err)
	}
	lis, err := net.Listen("unix", p.SocketPath())
	if err != nil {
		return nil, nil, fmt.Errorf("listening on %s: %w", p.SocketPath(), err)
	}
	srv := grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(srv, p)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	return srv, served, nil
}

// registerAndWatch registers (retrying every WatchInterval) and then watches
// the two sockets. It returns why the server must start over.
func (p *Plugin) registerAndWatch(ctx context.Context, own, kubelet os.FileInfo, served <-chan error) string {
	logger := klog.FromContext(ctx)
	t := time.NewTicker(p.cfg.WatchInterval)
	defer t.Stop()
	registered := false
	for {
		if !registered {
			if err := p.register(ctx); err != nil {
				p.metrics.Registrations.WithLabelValues(p.resource, metrics.ResultError).Inc()
				logger.Error(err, "Registering with kubelet failed; will retry", "kubeletSocket", p.cfg.KubeletSocket)
			} else {
				registered = true
				p.metrics.Registrations.WithLabelValues(p.resource, metrics.ResultSuccess).Inc()
				logger.Info("Registered with kubelet", "endpoint", p.SocketPath())
			}
		}
		select {
		case <-ctx.Done():
			return "stopping"
		case err := <-served:
			return fmt.Sprintf("gRPC server stopped: %v", err)
		case <-t.C:
		}
		if cur, err := os.Stat(p.SocketPath()); err != nil || own == nil || !os.SameFile(cur, own) {
			return "plugin socket was removed (kubelet restarted and cleaned its directory)"
		}
		if cur, err := os.Stat(p.cfg.KubeletSocket); err == nil && (kubelet == nil || !os.SameFile(cur, kubelet) || !cur.ModTime().Equal(kubelet.ModTime())) {
			return "kubelet socket was recreated (kubelet restarted)"
		}
	}
}

func (p *Plugin) register(ctx context.Context) error {
	conn, err := grpc.NewClient("unix://"+p.cfg.KubeletSocket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("kubelet client: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version:      pluginapi.Version,
		Endpoint:     p.Endpoint(),
		ResourceName: p.resource,
		Options:      &pluginapi.DevicePluginOptions{GetPreferredAllocationAvailable: true},
	})
	if err != nil {
		return fmt.Errorf("registering %s with kubelet: %w", p.resource, err)
	}
	return nil
}
