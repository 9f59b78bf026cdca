package reconcile

import (
	"context"
	"time"

	"k8s.io/klog/v2"
)

// Trigger asks for a pass soon (after Delay). It never blocks.
func (r *Reconciler) Trigger() {
	r.init()
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

func (r *Reconciler) init() {
	r.once.Do(func() { r.trigger = make(chan struct{}, 1) })
}

// Run makes a pass every Interval and soon after every Trigger until ctx is
// done.
func (r *Reconciler) Run(ctx context.Context) {
	r.init()
	logger := klog.FromContext(ctx)
	interval, delay := r.Interval, r.Delay
	if interval == 0 {
		interval = 10 * time.Second
	}
	if delay == 0 {
		delay = 250 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.trigger:
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
		}
		res, err := r.RunOnce(ctx)
		if err != nil {
			logger.Error(err, "Recording allocations failed; will retry")
			continue
		}
		if res != (Result{}) {
			logger.V(2).Info("Recorded allocations", "recorded", res.Recorded, "removed", res.Removed, "misses", res.Misses, "errors", res.Errors)
		}
	}
}
