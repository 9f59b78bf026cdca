// Package podresources reads kubelet's PodResources API: which device IDs
// kubelet gave each container. It is the node agent's source of truth for
// what a pod really holds; both the steering in the kubelet server and the
// reconciler that records allocations on pods read it.
package podresources
