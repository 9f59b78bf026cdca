// Package status writes what the autoscaler sees and did where a person
// can read it: a ConfigMap (as Cluster Autoscaler's cluster-autoscaler-status).
package status
