// Package cloudprovider defines what the autoscaler needs from the
// infrastructure (CloudProvider and NodeGroup, in Cluster Autoscaler's
// shape) and builds template nodes from configuration. Implementations
// live in sub-packages: fake (unit tests), kwok (Node objects that KWOK
// runs) and clusterapi (MachineDeployments through the scale subresource).
package cloudprovider
