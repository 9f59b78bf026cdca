// Package metrics defines the node agent's Prometheus metrics on
// k8s.io/component-base/metrics, registered through an injectable registry so
// that every test gets a fresh one.
package metrics
