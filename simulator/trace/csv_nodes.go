package trace

import "io"

// Column names of the Alibaba node lists (openb_node_list_*.csv).
const (
	ColNodeName      = "sn"
	ColNodeCPUMilli  = "cpu_milli"
	ColNodeMemoryMiB = "memory_mib"
	ColNodeGPUs      = "gpu"
	ColNodeModel     = "model"
)

var nodeSpec = csvSpec{
	required: []string{ColNodeName, ColNodeCPUMilli, ColNodeMemoryMiB, ColNodeGPUs, ColNodeModel},
}

// nodeColumns maps a Node's field names to the node list's columns.
var nodeColumns = map[string]string{
	fieldName:      ColNodeName,
	fieldCPUMilli:  ColNodeCPUMilli,
	fieldMemoryMiB: ColNodeMemoryMiB,
	fieldGPUs:      ColNodeGPUs,
	fieldModel:     ColNodeModel,
}

// ReadNodes reads an Alibaba node list (sn,cpu_milli,memory_mib,gpu,model). Columns are found by name in
// any order and all five are required (model is empty for CPU-only nodes); unknown columns are ignored.
// Every node is validated (Node.Validate) and names must be unique.
//
// source names r in errors (usually its path). On any problem ReadNodes returns no nodes and a
// *ParseErrors listing every problem found, each "source:line: column "x": reason".
func ReadNodes(r io.Reader, source string) ([]Node, error) {
	var nodes []Node
	seen := make(map[string]int)
	err := readCSV(r, source, nodeSpec, func(row *csvRow) {
		n := Node{
			Name:      row.cell(ColNodeName),
			CPUMilli:  row.int64(ColNodeCPUMilli),
			MemoryMiB: row.int64(ColNodeMemoryMiB),
			GPUs:      row.int(ColNodeGPUs),
			Model:     row.cell(ColNodeModel),
		}
		row.checkUnique(ColNodeName, n.Name, seen)
		if row.bad {
			return
		}
		row.failFields(n.check(), nodeColumns)
		if !row.bad {
			nodes = append(nodes, n)
		}
	})
	if err != nil {
		return nil, err
	}
	return nodes, nil
}
