package reconcile

import (
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
	"github.com/gantry-dev/gantry/deviceplugin/podresources"
)

// exportAllocated sets the per-card allocation gauge from what kubelet
// lists: one series per card of inv (0 when nothing is handed out), none
// for anything else, so the label set stays bounded by the node's cards.
// The series of a card that left the inventory, or whose labels changed,
// is deleted.
func (r *Reconciler) exportAllocated(snap podresources.Snapshot, inv device.Inventory) {
	gauge := metrics.OrNew(r.Metrics).DeviceAllocated
	held := snap.Held()
	r.mu.Lock()
	defer r.mu.Unlock()
	now := make(map[string][3]string, len(inv.Devices))
	for _, d := range inv.Devices {
		labels := [3]string{d.ID, string(d.Kind), d.Model}
		now[d.ID] = labels
		gauge.WithLabelValues(labels[:]...).Set(float64(held[d.ID]))
	}
	for id, labels := range r.exported {
		if now[id] != labels {
			gauge.DeleteLabelValues(labels[:]...)
		}
	}
	r.exported = now
}
