// Package publish writes a node's device inventory where everyone reads it:
// the versioned gantry.dev/inventory annotation and the model, count and
// accelerator labels on the Node object (contract.EncodeInventory and
// contract.NodeLabels). It patches only Gantry's own keys, with a JSON merge
// patch, so other writers' labels and annotations are never touched.
package publish
