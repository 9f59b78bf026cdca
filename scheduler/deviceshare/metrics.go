package deviceshare

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

const subsystem = "scheduler"

var (
	metricPlacements = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "gantry",
		Subsystem:      subsystem,
		Name:           "device_placements_total",
		Help:           "Pods whose devices the plugin reserved, by policy.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"policy"})
	metricInvalidRequests = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "gantry",
		Subsystem:      subsystem,
		Name:           "invalid_requests_total",
		Help:           "Pods rejected because their Gantry request is malformed.",
		StabilityLevel: metrics.ALPHA,
	})
	registerOnce sync.Once
)

// registerMetrics registers the plugin's metrics with the registry
// kube-scheduler serves on /metrics, once per process.
func registerMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(metricPlacements, metricInvalidRequests)
	})
}
