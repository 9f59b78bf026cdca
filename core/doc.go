// Package core is Gantry's one allocation model: device inventories, share
// requests, per-node device state, feasibility with reasons, and the
// placement strategies. The scheduler plugin, the autoscaler, the simulator
// and the device plugin all decide with this code.
//
// Everything under core is pure Go over k8s.io/api types: no clients, no
// logging, no hardware and no clock. Callers inject what the world is.
//
//   - device:   what a node has (Device, Inventory, Kind, Health)
//   - contract: the wire format every component agrees on (names, keys,
//     inventory and allocation encodings)
//   - share:    what a pod asks for (Request parsed from a pod)
//   - state:    what a node has left (NodeState, Fit, Assign, Release)
//   - policy:   where a request should go (binpack, spread, FGD and the
//     FGD paper's baselines, zone spread)
package core
