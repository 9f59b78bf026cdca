// Package kwok is a CloudProvider that creates Node objects from the
// groups' templates, annotated kwok.x-k8s.io/node=fake so that KWOK runs
// them, with the Gantry inventory already published; scale-down deletes
// them. It is the provider for tests, demos and the simulator on a real
// API server.
package kwok
