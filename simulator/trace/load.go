package trace

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File names of the Alibaba GPU trace v2023 ("openb").
const (
	// GPUNodeListFile is the cluster of the FGD paper: the 1213 GPU nodes (6212 GPUs).
	GPUNodeListFile = "openb_node_list_gpu_node.csv"
	// AllNodeListFile is the GPU nodes plus 310 CPU-only nodes.
	AllNodeListFile = "openb_node_list_all_node.csv"
	// DefaultVariant is the production task list (openb_pod_list_default.csv).
	DefaultVariant = "default"
)

// PodListFile is the file name of a pod list variant such as "default", "gpushare40" or "multigpu20".
func PodListFile(variant string) string { return "openb_pod_list_" + variant + ".csv" }

// Load reads an Alibaba node list and pod list. Errors name the files by the paths given; what the pod
// reader repaired is in the trace's Normalized (nil when nothing was).
func Load(nodesPath, podsPath string) (Trace, error) {
	nodes, err := readFile(nodesPath, ReadNodes)
	if err != nil {
		return Trace{}, err
	}
	var norm Normalizations
	pods, err := readFile(podsPath, func(r io.Reader, source string) ([]Pod, error) {
		p, n, err := ReadPods(r, source)
		norm = n
		return p, err
	})
	if err != nil {
		return Trace{}, err
	}
	if len(norm) == 0 {
		norm = nil // nothing repaired
	}
	return Trace{Nodes: nodes, Pods: pods, Normalized: norm}, nil
}

// LoadDir reads the FGD paper's cluster (GPUNodeListFile) and the pod list of the given variant ("" is
// DefaultVariant) from a folder laid out like the Alibaba trace's csv/ folder.
func LoadDir(dir, variant string) (Trace, error) {
	if variant == "" {
		variant = DefaultVariant
	}
	return Load(filepath.Join(dir, GPUNodeListFile), filepath.Join(dir, PodListFile(variant)))
}

// LoadGantry reads a trace in Gantry's own format (FORMAT.md) from a file.
func LoadGantry(path string) (Trace, error) {
	return readFile(path, ReadGantry)
}

func readFile[T any](path string, read func(io.Reader, string) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("open trace file: %w", err)
	}
	defer f.Close()
	return read(f, path)
}
