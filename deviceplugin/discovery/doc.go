// Package discovery finds a node's accelerators and watches their health.
//
// A Backend reports an Inventory and a stream of health events. Two backends
// ship: NVML for NVIDIA GPUs (over an injected nvml.Interface, so tests run on
// go-nvml's mock servers) and Static, a versioned inventory file for NPUs and
// for test nodes. A Store keeps the current inventory with health applied and
// tells subscribers when it changes; the kubelet server and the publisher
// both read it.
package discovery
