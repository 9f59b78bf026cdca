package trace

import "io"

// Column names of the Alibaba pod lists (openb_pod_list_*.csv).
const (
	ColPodName      = "name"
	ColPodCPUMilli  = "cpu_milli"
	ColPodMemoryMiB = "memory_mib"
	ColPodNumGPU    = "num_gpu"
	ColPodGPUMilli  = "gpu_milli"
	ColPodGPUSpec   = "gpu_spec"
	ColPodQoS       = "qos"
	ColPodPhase     = "pod_phase"
	ColPodCreation  = "creation_time"
	ColPodDeletion  = "deletion_time"
	ColPodScheduled = "scheduled_time"
)

var podSpec = csvSpec{
	required: []string{ColPodName, ColPodCPUMilli, ColPodMemoryMiB, ColPodNumGPU, ColPodGPUMilli},
	together: [][2]string{{ColPodCreation, ColPodDeletion}},
}

// podColumns maps a Pod's field names to the pod list's columns.
var podColumns = map[string]string{
	fieldName:      ColPodName,
	fieldCPUMilli:  ColPodCPUMilli,
	fieldMemoryMiB: ColPodMemoryMiB,
	fieldNumGPU:    ColPodNumGPU,
	fieldGPUMilli:  ColPodGPUMilli,
	fieldGPUSpec:   ColPodGPUSpec,
	fieldQoS:       ColPodQoS,
	fieldPhase:     ColPodPhase,
	fieldCreation:  ColPodCreation,
	fieldDeletion:  ColPodDeletion,
	fieldScheduled: ColPodScheduled,
}

// ReadPods reads an Alibaba pod list: the full form
// (name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time)
// or the five-column multigpu form (name,cpu_milli,memory_mib,num_gpu,gpu_milli). Columns are found by
// name in any order; the first five are required, the rest optional (creation_time and deletion_time
// together), unknown ones ignored. Every pod is validated (Pod.Validate) and names must be unique.
//
// Harmless irregularities that the FGD reference simulator accepts with a clear meaning are repaired,
// never silently: the returned Normalizations counts the rows repaired per kind (see Normalization).
//
// source names r in errors (usually its path). On any problem ReadPods returns no pods and a
// *ParseErrors listing every problem found, each "source:line: column "x": reason".
func ReadPods(r io.Reader, source string) ([]Pod, Normalizations, error) {
	var pods []Pod
	norm := Normalizations{}
	seen := make(map[string]int)
	err := readCSV(r, source, podSpec, func(row *csvRow) {
		p := Pod{
			Name:      row.cell(ColPodName),
			CPUMilli:  row.int64(ColPodCPUMilli),
			MemoryMiB: row.int64(ColPodMemoryMiB),
			NumGPU:    row.int(ColPodNumGPU),
			GPUMilli:  row.int64(ColPodGPUMilli),
			GPUSpec:   row.models(ColPodGPUSpec),
			QoS:       row.cell(ColPodQoS),
			Phase:     row.cell(ColPodPhase),
			Scheduled: row.optInt64(ColPodScheduled),
			HasTimes:  row.has(ColPodCreation),
		}
		if p.HasTimes {
			p.Creation = row.int64(ColPodCreation)
			p.Deletion = row.int64(ColPodDeletion)
		}
		row.checkUnique(ColPodName, p.Name, seen)
		if row.bad {
			return
		}
		row.failFields(p.check(), podColumns)
		if row.bad {
			return
		}
		pods = append(pods, p)
		for k := range row.repaired {
			norm.add(k)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return pods, norm, nil
}
