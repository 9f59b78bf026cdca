package trace

import (
	"fmt"
	"slices"
)

// Trace is a cluster (Nodes) and a workload (Pods), in input order.
type Trace struct {
	// GPUModels, when non-nil, declares every GPU model the trace may name: each node's Model and each
	// pod's GPUSpec entry must be one of them (this catches misspelt models). nil means any model.
	GPUModels []string
	Nodes     []Node
	Pods      []Pod
	// Normalized counts what the reader repaired in the input (Alibaba CSVs only; nil when read from
	// Gantry's own format, which is strict).
	Normalized Normalizations
}

// Models returns the GPU models the trace names (node models and pod GPUSpec entries), sorted and
// without duplicates; a converter can set GPUModels to it.
func (t Trace) Models() []string {
	set := make(map[string]bool)
	for _, n := range t.Nodes {
		if n.Model != "" {
			set[n.Model] = true
		}
	}
	for _, p := range t.Pods {
		for _, m := range p.GPUSpec {
			set[m] = true
		}
	}
	models := make([]string, 0, len(set))
	for m := range set {
		models = append(models, m)
	}
	slices.Sort(models)
	return models
}

// GPUCapacityMilli is the cluster's GPU capacity in thousandths of a GPU (1000 per device).
func (t Trace) GPUCapacityMilli() int64 {
	var total int64
	for _, n := range t.Nodes {
		total += n.GPUMilli()
	}
	return total
}

// Validate reports every problem of t as FieldErrors with paths such as "pods[3].gpuMilli": each node
// and pod is valid, names are unique among nodes and among pods, and, when GPUModels is set, every
// model named is declared there.
func (t Trace) Validate() error { return t.check().orNil() }

func (t Trace) check() FieldErrors {
	errs, declared := checkGPUModels(t.GPUModels)
	nodeNames := make(map[string]int, len(t.Nodes))
	for i, n := range t.Nodes {
		path := fmt.Sprintf("nodes[%d]", i)
		errs = append(errs, n.check().prefixed(path)...)
		errs = append(errs, checkUniqueName(path, n.Name, "nodes", i, nodeNames)...)
		if declared != nil && n.Model != "" && !declared[n.Model] {
			errs = append(errs, fieldErr(path+"."+fieldModel, n.Model, fmt.Sprintf("model %q is not in gpuModels", n.Model)))
		}
	}
	podNames := make(map[string]int, len(t.Pods))
	for i, p := range t.Pods {
		path := fmt.Sprintf("pods[%d]", i)
		errs = append(errs, p.check().prefixed(path)...)
		errs = append(errs, checkUniqueName(path, p.Name, "pods", i, podNames)...)
		for j, m := range p.GPUSpec {
			if declared != nil && m != "" && !declared[m] {
				errs = append(errs, fieldErr(fmt.Sprintf("%s.%s[%d]", path, fieldGPUSpec, j), m,
					fmt.Sprintf("model %q is not in gpuModels", m)))
			}
		}
	}
	return errs
}

// checkGPUModels validates the declared model list and returns it as a set (nil when not declared).
func checkGPUModels(models []string) (FieldErrors, map[string]bool) {
	if models == nil {
		return nil, nil
	}
	var errs FieldErrors
	set := make(map[string]bool, len(models))
	for i, m := range models {
		path := fmt.Sprintf("%s[%d]", fieldGPUModels, i)
		switch {
		case m == "":
			errs = append(errs, fieldErr(path, m, "must not be empty"))
		case set[m]:
			errs = append(errs, fieldErr(path, m, fmt.Sprintf("model %q is listed twice", m)))
		}
		set[m] = true
	}
	return errs, set
}

func checkUniqueName(path, name, list string, i int, seen map[string]int) FieldErrors {
	if name == "" {
		return nil
	}
	if first, dup := seen[name]; dup {
		return FieldErrors{fieldErr(path+"."+fieldName, name, fmt.Sprintf("duplicate name %q, first at %s[%d]", name, list, first))}
	}
	seen[name] = i
	return nil
}
