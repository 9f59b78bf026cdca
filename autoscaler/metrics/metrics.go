package metrics

import (
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

const (
	namespace = "gantry"
	subsystem = "autoscaler"
)

// Metrics are the autoscaler's metrics.
type Metrics struct {
	ScaleUps          *k8smetrics.CounterVec
	ScaledUpNodes     *k8smetrics.CounterVec
	FailedScaleUps    *k8smetrics.CounterVec
	ScaledDownNodes   *k8smetrics.CounterVec
	UnschedulablePods *k8smetrics.Gauge
	UpcomingNodes     *k8smetrics.GaugeVec
	UnneededNodes     *k8smetrics.Gauge
	LoopDuration      *k8smetrics.HistogramVec
}

// New creates the metrics and registers them into reg, or into the legacy
// registry when reg is nil.
func New(reg k8smetrics.KubeRegistry) *Metrics {
	m := &Metrics{
		ScaleUps: k8smetrics.NewCounterVec(&k8smetrics.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: "scale_ups_total",
			Help: "Scale-ups requested, by node group.", StabilityLevel: k8smetrics.ALPHA}, []string{"node_group"}),
		ScaledUpNodes: k8smetrics.NewCounterVec(&k8smetrics.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: "scaled_up_nodes_total",
			Help: "Nodes requested, by node group.", StabilityLevel: k8smetrics.ALPHA}, []string{"node_group"}),
		FailedScaleUps: k8smetrics.NewCounterVec(&k8smetrics.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: "failed_scale_ups_total",
			Help: "Scale-ups that failed, by node group and reason (provider error or timeout).", StabilityLevel: k8smetrics.ALPHA}, []string{"node_group", "reason"}),
		ScaledDownNodes: k8smetrics.NewCounterVec(&k8smetrics.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: "scaled_down_nodes_total",
			Help: "Nodes removed, by node group.", StabilityLevel: k8smetrics.ALPHA}, []string{"node_group"}),
		UnschedulablePods: k8smetrics.NewGauge(&k8smetrics.GaugeOpts{Namespace: namespace, Subsystem: subsystem, Name: "unschedulable_pods",
			Help: "Pending pods that fit neither existing nor upcoming capacity.", StabilityLevel: k8smetrics.ALPHA}),
		UpcomingNodes: k8smetrics.NewGaugeVec(&k8smetrics.GaugeOpts{Namespace: namespace, Subsystem: subsystem, Name: "upcoming_nodes",
			Help: "Nodes requested but not yet ready, by node group.", StabilityLevel: k8smetrics.ALPHA}, []string{"node_group"}),
		UnneededNodes: k8smetrics.NewGauge(&k8smetrics.GaugeOpts{Namespace: namespace, Subsystem: subsystem, Name: "unneeded_nodes",
			Help: "Nodes below the scale-down utilisation threshold.", StabilityLevel: k8smetrics.ALPHA}),
		LoopDuration: k8smetrics.NewHistogramVec(&k8smetrics.HistogramOpts{Namespace: namespace, Subsystem: subsystem, Name: "loop_duration_seconds",
			Help: "Duration of the loop's steps.", Buckets: k8smetrics.ExponentialBuckets(0.001, 2, 16), StabilityLevel: k8smetrics.ALPHA}, []string{"step"}),
	}
	cs := []k8smetrics.Registerable{m.ScaleUps, m.ScaledUpNodes, m.FailedScaleUps, m.ScaledDownNodes, m.UnschedulablePods, m.UpcomingNodes, m.UnneededNodes, m.LoopDuration}
	if reg == nil {
		legacyregistry.MustRegister(cs...)
	} else {
		reg.MustRegister(cs...)
	}
	return m
}
