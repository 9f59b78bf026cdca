package policy

import "fmt"

// FGDPlus is FGD that also places pods asking for no device by their effect
// on fragmentation. FGD (and the paper's simulator) gives such a pod the same
// score on every node, so it lands wherever the tie-break puts it, and its
// CPU can leave a node's free GPUs unusable for the device shapes that need
// that CPU. FGDPlus scores it like any other placement: the change in the
// node's expected fragmentation once its CPU is taken, so CPU-only work
// drifts to nodes where CPU is not what the workload's GPU shapes lack.
// Device requests are scored exactly as FGD scores them.
func newFGDPlus(o Options) (Strategy, error) {
	if err := o.Workload.Validate(); err != nil {
		return nil, fmt.Errorf("FGDPlus needs a workload distribution: %w", err)
	}
	return fgd{w: o.Workload.Normalized(), hostAware: true}, nil
}
