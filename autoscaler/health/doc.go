// Package health tells whether the autoscaler's loop is alive, the way
// Cluster Autoscaler's health check does: /healthz (liveness) fails once
// the loop has shown no activity for longer than MaxInactivity or has not
// completed a run without error for longer than MaxFailing; /readyz fails
// until the informer caches are synced and, on the leader, the first loop
// has finished. A replica waiting for the lease is live and ready.
package health
