// Package monitoring holds Gantry's Prometheus alerting rules and Grafana
// dashboard (prometheusrule.yaml, grafana-dashboard.json) and the test that
// keeps them, and docs/metrics.md, in step with the metrics the code
// defines.
package monitoring
