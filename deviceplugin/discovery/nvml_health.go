package discovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
//	            answers a query (and takes event registration), and, after
//	            a fault that needs a reset (ResetXIDs, DBE), there is
//	            evidence of one--> Healthy
//
// Evidence of a reset is either of: the GPU stopped answering and answers
// again (a GPU that fell off the bus answers only once reset), or its
// volatile uncorrected ECC count, which a reset clears, fell below its
// value at the fault. Without either the GPU stays Unhealthy until the
// agent restarts (after the operator has reset it).
type gpuHealth struct {
	index        int
	uuid         string
	healthy      bool
	registered   bool
	lastCritical time.Time
	// needsReset is set by a fault in ResetXIDs or a DBE; eccAtFault is
	// the volatile uncorrected ECC count then (-1: unreadable); lostSeen
	// records that the GPU stopped answering since.
	needsReset bool
	eccAtFault int64
	lostSeen   bool
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
	reset := false
	switch {
	case ev.EventType&nvml.EventTypeXidCriticalError != 0:
		if w.n.ignoredXIDs[ev.EventData] {
			logger.V(3).Info("Ignoring application-level XID", "xid", ev.EventData, "reason", XIDReason(ev.EventData))
			return
		}
		reason = XIDReason(ev.EventData)
		reset = slices.Contains(ResetXIDs, ev.EventData)
	case ev.EventType&nvml.EventTypeDoubleBitEccError != 0:
		reason, reset = "double-bit ECC error", true
	default:
		return
	}
	if reset {
		reason += "; needs a GPU reset"
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
		if reset {
			// A further fault while a reset is awaited keeps what was
			// seen since the first.
			if !g.needsReset {
				g.needsReset, g.lostSeen, g.eccAtFault = true, false, -1
			}
			g.eccAtFault = max(g.eccAtFault, w.volatileECC(g))
		}
		w.markUnhealthy(ctx, g, reason)
	}
}

// volatileECC returns the GPU's volatile uncorrected ECC count, or -1.
func (w *nvmlWatch) volatileECC(g *gpuHealth) int64 {
	h, ret := w.n.lib.DeviceGetHandleByUUID(g.uuid)
	if ret != nvml.SUCCESS {
		return -1
	}
	n, ret := h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC)
	if ret != nvml.SUCCESS {
		return -1
	}
	return int64(n)
}

// resetEvidence reports whether a GPU that needed a reset has had one.
func (w *nvmlWatch) resetEvidence(g *gpuHealth) (bool, string) {
	if g.lostSeen {
		return true, "it stopped answering and answers again"
	}
	if ecc := w.volatileECC(g); g.eccAtFault > 0 && ecc >= 0 && ecc < g.eccAtFault {
		return true, fmt.Sprintf("its volatile uncorrected ECC count went from %d to %d", g.eccAtFault, ecc)
	}
	return false, ""
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
			g.lostSeen = true
			klog.FromContext(ctx).V(2).Info("Unhealthy GPU does not answer yet", "uuid", g.uuid, "err", err)
			continue
		}
		reason := fmt.Sprintf("recovered: no critical event for %s and the GPU answers", w.n.recoveryWindow)
		if g.needsReset {
			ok, why := w.resetEvidence(g)
			if !ok {
				continue
			}
			reason += "; reset evidenced: " + why
			g.needsReset = false
		}
		g.healthy = true
		w.emit(ctx, g, device.Healthy, reason)
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

// emit reports a GPU's health; a GPU in MIG mode reports it for each of
// its published instances, which share its faults.
func (w *nvmlWatch) emit(ctx context.Context, g *gpuHealth, h device.Health, reason string) {
	for _, id := range w.n.publishedIDs(g.uuid) {
		select {
		case w.out <- HealthEvent{DeviceID: id, Health: h, Reason: reason, Time: w.n.clock.Now()}:
		case <-ctx.Done():
			return
		}
	}
}
