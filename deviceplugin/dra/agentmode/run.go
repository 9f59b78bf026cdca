// Package agentmode is the node agent's DRA mode: the driver of
// deviceplugin/dra fed by the agent's discovery store. It is apart from
// deviceplugin/dra so that the driver links without NVML.
package agentmode

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/cdi"
	"github.com/gantry-dev/gantry/deviceplugin/discovery"
	"github.com/gantry-dev/gantry/deviceplugin/dra"
)

// RunConfig is what the node agent's DRA mode needs.
type RunConfig struct {
	NodeName   string
	KubeClient kubernetes.Interface
	// Store is the agent's discovery store: its cards, and their health as
	// the backends report it.
	Store *discovery.Store
	// CDI is where the cards' specs are written (the same specs as in
	// device-plugin mode).
	CDI           cdi.Config
	PluginDataDir string
	RegistrarDir  string
}

// Run is the node agent in DRA mode: it writes the cards' CDI specs, serves
// kubelet as the driver gpu.gantry.dev, and republishes the slice whenever
// a card's health changes, until ctx ends. The caller runs Store.Run.
func Run(ctx context.Context, cfg RunConfig) error {
	logger := klog.FromContext(ctx).WithValues("driver", contract.DRADriver)
	inv, changed := cfg.Store.Snapshot()
	w, err := cdi.New(cfg.CDI)
	if err != nil {
		return fmt.Errorf("dra mode: %w", err)
	}
	rt := cfg.Store.Runtime()
	cards := make([]cdi.Card, len(inv.Devices))
	for i, d := range inv.Devices {
		cards[i] = cdi.Card{Device: d, DeviceNodes: rt.For(d).Paths}
	}
	if err := w.Sync(cards); err != nil {
		return fmt.Errorf("dra mode: writing CDI specs: %w", err)
	}
	d, err := dra.New(dra.Config{NodeName: cfg.NodeName, KubeClient: cfg.KubeClient, Devices: inv.Devices, CDI: w,
		PluginDataDir: cfg.PluginDataDir, RegistrarDir: cfg.RegistrarDir})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer d.Stop()
	logger.Info("Serving kubelet in DRA mode", "devices", len(inv.Devices), "prepared", len(d.Prepared()))
	health := healthOf(inv)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		inv, changed = cfg.Store.Snapshot()
		now := healthOf(inv)
		ids := make([]string, 0, len(now))
		for id := range now {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if now[id] == health[id] {
				continue
			}
			if err := d.SetHealth(ctx, id, now[id]); err != nil {
				logger.Error(err, "Cannot republish a card's health", "device", id, "health", now[id])
				continue
			}
			logger.Info("Card health changed", "device", id, "health", now[id])
		}
		health = now
	}
}

func healthOf(inv device.Inventory) map[string]device.Health {
	out := make(map[string]device.Health, len(inv.Devices))
	for _, d := range inv.Devices {
		out[d.ID] = d.Health
	}
	return out
}
