package deviceshare

import (
	"context"
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gantry-dev/gantry/core/policy"
	"github.com/gantry-dev/gantry/core/share"
)

// PreFilter parses the pod's request once. A malformed request rejects the
// pod as unresolvable with a message naming every bad field; a pod that asks
// for no device skips the plugin's Filter.
func (pl *DeviceShare) PreFilter(ctx context.Context, cs fwk.CycleState, pod *v1.Pod, nodes []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status) {
	pl.nodes.forgetNodesExcept(nodes)
	req, err := share.Parse(pod)
	if err != nil {
		klog.FromContext(ctx).V(3).Info("Rejecting malformed request", "pod", klog.KObj(pod), "err", err)
		metricInvalidRequests.Inc()
		return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, err.Error())
	}
	cs.Write(preFilterStateKey, &preFilterState{req: req, key: requestKey(req, pl.args.Policy)})
	// Pods that ask for no device are part of the workload too (the FGD
	// paper counts them): their host CPU is what device shapes compete for.
	pl.workload.observe(pod.Namespace, pod.UID, req)
	if req.Empty() {
		return nil, fwk.NewStatus(fwk.Skip)
	}
	return nil, nil
}

// PreFilterExtensions returns nil: device state is read per node from the
// NodeInfo the framework passes, so preemption's what-if pods are seen.
func (pl *DeviceShare) PreFilterExtensions() fwk.PreFilterExtensions { return nil }

// requestKey identifies everything about a request that a strategy's
// result can depend on.
func requestKey(req *share.Request, p policy.Type) string {
	var b strings.Builder
	for _, part := range req.Parts {
		fmt.Fprintf(&b, "%s:%s:%dx%d;", part.Container, part.Kind, part.Count, part.Units)
	}
	for _, k := range req.Kinds() {
		fmt.Fprintf(&b, "%s=%s;", k, strings.Join(req.Models[k], "|"))
	}
	fmt.Fprintf(&b, "cpu=%d;mem=%d;w=%s;shared=%t", req.CPUMilli, req.MemoryMiB, req.Workload, req.AllowSharedDevice)
	if policy.DependsOnPod(p) {
		b.WriteString(";pod=" + req.Pod)
	}
	return b.String()
}
