// Package nvmltest builds go-nvml mock servers with what the dgxa100 mock
// leaves out: PCI bus IDs, NUMA nodes, NVLinks through NVSwitches, and an
// event set that tests can push XIDs into. It is for tests only.
package nvmltest
