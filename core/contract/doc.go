// Package contract is the one place where Gantry's wire format lives: the
// extended resource names, label and annotation keys, the versioned node
// inventory annotation, the allocation annotations the scheduler and the node
// agent write on pods, and the device plugin's slot IDs. Every component
// encodes and decodes through this package and nowhere else.
package contract
