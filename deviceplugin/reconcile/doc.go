// Package reconcile records on each pod what kubelet really gave it.
//
// It lists kubelet's PodResources API, turns each container's Gantry slot IDs
// into a contract.Allocation and writes it to the pod's gantry.dev/allocated
// annotation, which the scheduler, the autoscaler and the simulator prefer
// over the scheduler's own gantry.dev/allocation. Where the two differ (kubelet
// did not follow the steering) it emits a Warning event and counts a miss. A
// record nobody could have earned (on a pod kubelet has not admitted) is
// removed, and a wrong one is overwritten, so a pod that sets the annotation
// itself gains nothing from it.
//
// Each pass also exports, per card of the node, the percent kubelet has
// handed out (gantry_deviceplugin_device_allocated_percent), labelled only
// by the card, its kind and its model.
package reconcile
