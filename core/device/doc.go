// Package device describes the accelerators a node has: their kind, model,
// memory, health and topology. An Inventory is the node's full list; it is
// published by the device plugin and read by everyone else.
package device
