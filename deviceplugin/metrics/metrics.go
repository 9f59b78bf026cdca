package metrics

import (
	"k8s.io/component-base/metrics"
)

const (
	namespace = "gantry"
	subsystem = "deviceplugin"
)

// Label values used across the agent.
const (
	ResultSuccess = "success"
	ResultError   = "error"

	// SteerIntent means GetPreferredAllocation steered to a scheduler intent.
	SteerIntent = "intent"
	// SteerFallback means no intent matched and the best-fit device was chosen.
	SteerFallback = "fallback"
	// SteerNone means nothing could be proposed; kubelet chooses alone.
	SteerNone = "none"
)

// Metrics holds every metric of the node agent. The zero value is not usable;
// call New. Metrics that were never registered are silently inert, so a
// component handed New() without Register works and records nothing.
type Metrics struct {
	// Allocations counts Allocate container requests by resource and result.
	Allocations *metrics.CounterVec
	// Steering counts GetPreferredAllocation container requests by resource
	// and how the answer was chosen (intent, fallback, none).
	Steering *metrics.CounterVec
	// SteeringMisses counts containers whose recorded allocation differs from
	// the scheduler's intent.
	SteeringMisses *metrics.CounterVec
	// Registrations counts registrations with kubelet by resource and result.
	Registrations *metrics.CounterVec
	// DeviceHealthy is 1 for a healthy device and 0 otherwise.
	DeviceHealthy *metrics.GaugeVec
	// DeviceAllocated is, per card of the node, the percent of it kubelet
	// has handed out to active pods (the slots it lists in PodResources).
	// Its labels are those of DeviceHealthy: one series per card, never a
	// pod or namespace label.
	DeviceAllocated *metrics.GaugeVec
	// HealthTransitions counts health changes by kind and new health.
	HealthTransitions *metrics.CounterVec
	// Publishes counts node patches by result.
	Publishes *metrics.CounterVec
	// RecordPatches counts pod allocation records written, by result.
	RecordPatches *metrics.CounterVec
}

// New returns a fresh, unregistered set of metrics.
func New() *Metrics {
	return &Metrics{
		Allocations: metrics.NewCounterVec(&metrics.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "allocations_total",
			Help:           "Allocate container requests served, by resource and result.",
			StabilityLevel: metrics.ALPHA,
		}, []string{"resource", "result"}),
		Steering: metrics.NewCounterVec(&metrics.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "preferred_allocations_total",
			Help:           "GetPreferredAllocation container requests, by resource and how the answer was chosen (intent, fallback, none).",
			StabilityLevel: metrics.ALPHA,
		}, []string{"resource", "source"}),
		SteeringMisses: metrics.NewCounterVec(&metrics.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "steering_misses_total",
			Help:           "Containers whose allocation recorded from kubelet differs from the scheduler's choice, by kind.",
			StabilityLevel: metrics.ALPHA,
		}, []string{"kind"}),
		Registrations: metrics.NewCounterVec(&metrics.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "registrations_total",
			Help:           "Registrations with kubelet, by resource and result.",
			StabilityLevel: metrics.ALPHA,
		}, []string{"resource", "result"}),
		DeviceHealthy: metrics.NewGaugeVec(&metrics.GaugeOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "device_healthy",
			Help:           "1 when the device takes new shares, 0 when it is unhealthy.",
			StabilityLevel: metrics.ALPHA,
		}, []string{"device", "kind", "model"}),
		DeviceAllocated: metrics.NewGaugeVec(&metrics.GaugeOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "device_allocated_percent",
			Help:           "Percent of the card kubelet has handed out to active pods' containers (0..100), as its PodResources API lists them.",
			StabilityLevel: metrics.ALPHA,
		}, []string{"device", "kind", "model"}),
		HealthTransitions: metrics.NewCounterVec(&metrics.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "health_transitions_total",
			Help:           "Device health changes, by kind and the new health.",
			StabilityLevel: metrics.ALPHA,
		}, []string{"kind", "health"}),
		Publishes: metrics.NewCounterVec(&metrics.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "inventory_publishes_total",
			Help:           "Node inventory patches, by result (unchanged nodes are not patched).",
			StabilityLevel: metrics.ALPHA,
		}, []string{"result"}),
		RecordPatches: metrics.NewCounterVec(&metrics.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "allocation_records_total",
			Help:           "Pod allocation records written from kubelet's PodResources API, by result.",
			StabilityLevel: metrics.ALPHA,
		}, []string{"result"}),
	}
}

// Register registers every metric with r and returns m.
func (m *Metrics) Register(r metrics.KubeRegistry) *Metrics {
	r.MustRegister(m.Allocations, m.Steering, m.SteeringMisses, m.Registrations,
		m.DeviceHealthy, m.DeviceAllocated, m.HealthTransitions, m.Publishes, m.RecordPatches)
	return m
}

// OrNew returns m, or a fresh unregistered set when m is nil.
func OrNew(m *Metrics) *Metrics {
	if m == nil {
		return New()
	}
	return m
}
