// Package mps runs the node's CUDA MPS control daemon for the cards the
// agent isolates with MPS: it puts them in EXCLUSIVE_PROCESS compute mode
// through NVML, starts nvidia-cuda-mps-control -d with its own pipe, log and
// shm directories, probes it, restarts it with backoff, and on shutdown
// sends quit and restores each card's compute mode. The per-client limits
// (thread percentage, pinned device memory) reach each container through
// its CDI device (see deviceplugin/cdi).
package mps
