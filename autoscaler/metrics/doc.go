// Package metrics defines the autoscaler's Prometheus metrics on
// component-base/metrics (namespace gantry, subsystem autoscaler),
// registered into an injected registry so that each test gets its own.
package metrics
