// Package clusterapi is a CloudProvider over Cluster API: each node group
// is a MachineDeployment (cluster.x-k8s.io/v1beta2) named by the group's
// providerRef "namespace/name", resized through its scale subresource.
// The template comes from annotations on the MachineDeployment where
// present (gantry.dev/template-gpu-model, -gpu-count, -gpu-memory-mib,
// -npu-model, -npu-count, -cpu, -memory, -zone) and from the group's
// configured template otherwise; Cluster Autoscaler's
// cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size/max-size
// annotations override the configured bounds. Scale-down marks the
// node's Machine with cluster.x-k8s.io/delete-machine before lowering
// replicas, as Cluster Autoscaler does.
package clusterapi
