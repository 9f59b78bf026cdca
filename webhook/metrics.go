package webhook

import (
	"k8s.io/component-base/metrics"
)

// Results of one review.
const (
	resultAllowed    = "allowed"
	resultPatched    = "patched"
	resultDenied     = "denied"
	resultBadRequest = "bad_request"
)

// Metrics are the webhook's metrics.
type Metrics struct {
	Reviews *metrics.CounterVec
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		Reviews: metrics.NewCounterVec(&metrics.CounterOpts{
			Namespace:      "gantry",
			Subsystem:      "webhook",
			Name:           "reviews_total",
			Help:           "Admission reviews answered, by path and result (allowed, patched, denied, bad_request).",
			StabilityLevel: metrics.ALPHA,
		}, []string{"path", "result"}),
	}
}

// Register registers the metrics with reg and returns m.
func (m *Metrics) Register(reg metrics.KubeRegistry) *Metrics {
	reg.MustRegister(m.Reviews)
	return m
}

func (m *Metrics) observe(path, result string) {
	if m == nil {
		return
	}
	m.Reviews.WithLabelValues(path, result).Inc()
}
