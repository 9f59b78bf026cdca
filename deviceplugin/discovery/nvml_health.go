package discovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/core/device"
)

// healthEvents are the NVML events that can make a GPU unhealthy.
const healthEvents = uint64(nvml.EventTypeXidCriticalError | nvml.EventTypeDoubleBitEccError)

// gpuHealth is the health state machine of one GPU:
//
//	Healthy --critical XID / DBE / lost--> Unhealthy
//	Unhealthy --no critical event for the recovery window, and the GPU
//	            answers a query (and takes event registration)--> Healthy
type gpuHealth struct {
	index        int
	uuid         string
	healthy      bool
	registered   bool
	lastCritical time.Time
}

type nvmlWatch struct {
	n      *NVML
	set    nvml.EventSet
	gpus   []*gpuHealth
	byUUID map[string]*gpuHealth
	out    chan HealthEvent
}

// Watch implements Backend. It registers every GPU for XID and double-bit
// ECC events and streams health changes, including recoveries.
func (n *NVML) Watch(ctx context.Context) (<-chan HealthEvent, error) {
	out := make(chan HealthEvent, 64)
	if !n.healthChecks {
		go func() { <-ctx.Done(); close(out) }()
		return out, nil
	}
	if err := nvmlErr("Init", -1, n.lib.Init()); err != nil {
		return nil, err
	}
	w, err := n.startWatch(ctx, out)
	if err != nil {
		n.lib.Shutdown()
		return nil, err
	}
	go w.run(ctx)
	return out, nil
}

func (n *NVML) startWatch(ctx context.Context, out chan HealthEvent) (*nvmlWatch, error) {
	logger := klog.FromContext(ctx)
	set, ret := n.lib.EventSetCreate()
	if err := nvmlErr("EventSetCreate", -1, ret); err != nil {
		return nil, err
	}
	w := &nvmlWatch{n: n, set: set, byUUID: map[string]*gpuHealth{}, out: out}
	count, ret := n.lib.DeviceGetCount()
	if err := nvmlErr("DeviceGetCount", -1, ret); err != nil {
		set.Free()
		return nil, err
	}
	for i := 0; i < count; i++ {
		h, ret := n.lib.DeviceGetHandleByIndex(i)
		if err := nvmlErr("DeviceGetHandleByIndex", i, ret); err != nil {
			set.Free()
			return nil, err
		}
		uuid, ret := h.GetUUID()
		if err := nvmlErr("GetUUID", i, ret); err != nil {
			set.Free()
			return nil, err
		}
		g := &gpuHealth{index: i, uuid: uuid, healthy: true}
		w.gpus = append(w.gpus, g)
		w.byUUID[uuid] = g
		if err := w.register(h, g); err != nil {
			if errors.Is(err, nvml.ERROR_NOT_SUPPORTED) || errors.Is(err, nvml.ERROR_FUNCTION_NOT_FOUND) {
				logger.Info("GPU does not report health events; it is never marked unhealthy", "index", i, "uuid", uuid)
				continue
			}
			w.markUnhealthy(ctx, g, "cannot register for health events: "+err.Error())
		}
	}
	return w, nil
}

func (w *nvmlWatch) register(h nvml.Device, g *gpuHealth) error {
	supported, ret := h.GetSupportedEventTypes()
	if err := nvmlErr("GetSupportedEventTypes", g.index, ret); err != nil {
		return err
	}
	if err := nvmlErr("RegisterEvents", g.index, h.RegisterEvents(supported&healthEvents, w.set)); err != nil {
		return err
	}
	g.registered = true
	return nil
}

func (w *nvmlWatch) run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	defer func() {
		w.set.Free()
		w.n.lib.Shutdown()
		close(w.out)
	}()
	waitMs := uint32(w.n.eventWait / time.Millisecond)
	for ctx.Err() == nil {
		ev, ret := w.set.Wait(waitMs)
		switch ret {
		case nvml.SUCCESS:
			w.handle(ctx, ev)
		case nvml.ERROR_TIMEOUT:
		default:
			// NVML cannot say which GPU failed; assume all did, as a lost
			// GPU makes the event set itself fail.
			logger.Error(nvmlErr("EventSetWait", -1, ret), "Waiting for GPU events failed; marking every GPU unhealthy")
			for _, g := range w.gpus {
				g.lastCritical = w.n.clock.Now()
				w.markUnhealthy(ctx, g, "event wait failed: "+nvml.ErrorString(ret))
			}
			select {
			case <-ctx.Done():
			case <-time.After(w.n.eventWait):
			}
		}
		w.recover(ctx)
	}
}

func (w *nvmlWatch) handle(ctx context.Context, ev nvml.EventData) {
	logger := klog.FromContext(ctx)
	var reason string
	switch {
	case ev.EventType&nvml.EventTypeXidCriticalError != 0:
		if w.n.ignoredXIDs[ev.EventData] {
			logger.V(3).Info("Ignoring application-level XID", "xid", ev.EventData, "reason", XIDReason(ev.EventData))
			return
		}
		reason = XIDReason(ev.EventData)
	case ev.EventType&nvml.EventTypeDoubleBitEccError != 0:
		reason = "double-bit ECC error"
	default:
		return
	}
	var targets []*gpuHealth
	if ev.Device != nil {
		if uuid, ret := ev.Device.GetUUID(); ret == nvml.SUCCESS && w.byUUID[uuid] != nil {
			targets = []*gpuHealth{w.byUUID[uuid]}
		}
	}
	if targets == nil {
		logger.Info("Critical GPU event names no known GPU; marking every GPU unhealthy", "reason", reason)
		targets = w.gpus
	}
	for _, g := range targets {
		g.lastCritical = w.n.clock.Now()
		w.markUnhealthy(ctx, g, reason)
	}
}

// recover brings back GPUs that stayed quiet for the recovery window and
// answer a query again.
func (w *nvmlWatch) recover(ctx context.Context) {
	now := w.n.clock.Now()
	for _, g := range w.gpus {
		if g.healthy || now.Sub(g.lastCritical) < w.n.recoveryWindow {
			continue
		}
		if err := w.probe(g); err != nil {
			klog.FromContext(ctx).V(2).Info("Unhealthy GPU does not answer yet", "uuid", g.uuid, "err", err)
			continue
		}
		g.healthy = true
		w.emit(ctx, g, device.Healthy, fmt.Sprintf("recovered: no critical event for %s and the GPU answers", w.n.recoveryWindow))
	}
}

func (w *nvmlWatch) probe(g *gpuHealth) error {
	h, ret := w.n.lib.DeviceGetHandleByUUID(g.uuid)
	if err := nvmlErr("DeviceGetHandleByUUID", g.index, ret); err != nil {
		return err
	}
	if _, ret := h.GetMemoryInfo(); ret != nvml.SUCCESS {
		return nvmlErr("GetMemoryInfo", g.index, ret)
	}
	if !g.registered {
		return w.register(h, g)
	}
	return nil
}

func (w *nvmlWatch) markUnhealthy(ctx context.Context, g *gpuHealth, reason string) {
	if g.lastCritical.IsZero() {
		g.lastCritical = w.n.clock.Now()
	}
	if !g.healthy {
		return
	}
	g.healthy = false
	w.emit(ctx, g, device.Unhealthy, reason)
}

func (w *nvmlWatch) emit(ctx context.Context, g *gpuHealth, h device.Health, reason string) {
	select {
	case w.out <- HealthEvent{DeviceID: g.uuid, Health: h, Reason: reason, Time: w.n.clock.Now()}:
	case <-ctx.Done():
	}
}
