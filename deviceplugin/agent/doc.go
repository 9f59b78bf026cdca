// Package agent wires the node agent together: discovery feeds a Store; the
// Store feeds the kubelet servers (one per device kind present) and the
// inventory publisher; every Allocate nudges the reconciler, which records
// kubelet's truth on the pods. cmd/gantry-device-plugin only parses flags and
// calls Run.
package agent
