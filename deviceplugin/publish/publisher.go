package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/device"
	"github.com/gantry-dev/gantry/deviceplugin/metrics"
)

// FieldManager is the field manager of the agent's patches.
const FieldManager = "gantry-device-plugin"

// managedLabels are the labels the agent owns. A label here that the
// inventory no longer implies (no NPUs left, say) is removed.
var managedLabels = []string{
	contract.LabelGPUModel, contract.LabelGPUCount,
	contract.LabelNPUModel, contract.LabelNPUCount,
	contract.LabelAccelerator,
}

// Source is the node's current inventory; discovery.Store is one.
type Source interface {
	Snapshot() (device.Inventory, <-chan struct{})
}

// Publisher keeps the Node object in step with the inventory.
type Publisher struct {
	Client kubernetes.Interface
	Node   string
	Source Source
	// Clock drives the heartbeat; default the real clock.
	Clock clock.WithTicker
	// Heartbeat is how often the node is checked (and repaired) even
	// without a change. Default 1m.
	Heartbeat time.Duration
	// Retry is how soon a failed patch is tried again. Default 5s.
	Retry   time.Duration
	Metrics *metrics.Metrics
}

// Publish patches the node so that it carries inv, and reports whether a
// patch was needed.
func (p *Publisher) Publish(ctx context.Context, inv device.Inventory) (bool, error) {
	m := metrics.OrNew(p.Metrics)
	patch, err := p.patchFor(ctx, inv)
	if err != nil || patch == nil {
		if err != nil {
			m.Publishes.WithLabelValues(metrics.ResultError).Inc()
		}
		return false, err
	}
	if _, err := p.Client.CoreV1().Nodes().Patch(ctx, p.Node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		m.Publishes.WithLabelValues(metrics.ResultError).Inc()
		return false, fmt.Errorf("patching node %s: %w", p.Node, err)
	}
	m.Publishes.WithLabelValues(metrics.ResultSuccess).Inc()
	klog.FromContext(ctx).V(2).Info("Published device inventory", "node", p.Node, "devices", len(inv.Devices))
	return true, nil
}

// patchFor returns the merge patch that brings the node to inv, or nil when
// the node already carries it.
func (p *Publisher) patchFor(ctx context.Context, inv device.Inventory) ([]byte, error) {
	node, err := p.Client.CoreV1().Nodes().Get(ctx, p.Node, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("getting node %s: %w", p.Node, err)
	}
	value, err := contract.EncodeInventory(inv)
	if err != nil {
		return nil, fmt.Errorf("encoding inventory: %w", err)
	}
	want := contract.NodeLabels(inv)
	labels := map[string]any{}
	for _, k := range managedLabels {
		v, wanted := want[k]
		cur, has := node.Labels[k]
		switch {
		case wanted && (!has || cur != v):
			labels[k] = v
		case !wanted && has:
			labels[k] = nil
		}
	}
	meta := map[string]any{}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	if node.Annotations[contract.AnnotationInventory] != value {
		meta["annotations"] = map[string]any{contract.AnnotationInventory: value}
	}
	if len(meta) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return nil, fmt.Errorf("encoding patch: %w", err)
	}
	return b, nil
}

// Run publishes the inventory now, on every change, and on every heartbeat,
// until ctx is done. Failures are logged and retried.
func (p *Publisher) Run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	clk := p.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	heartbeat, retry := p.Heartbeat, p.Retry
	if heartbeat == 0 {
		heartbeat = time.Minute
	}
	if retry == 0 {
		retry = 5 * time.Second
	}
	for {
		inv, changed := p.Source.Snapshot()
		wait := heartbeat
		if _, err := p.Publish(ctx, inv); err != nil {
			logger.Error(err, "Publishing device inventory failed; will retry", "node", p.Node, "retryIn", retry)
			wait = retry
		}
		t := clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			p.handOver(ctx)
			return
		case <-changed:
			t.Stop()
		case <-t.C():
		}
	}
}

// Withdraw removes what Publish wrote: the inventory annotation and the
// managed labels.
func (p *Publisher) Withdraw(ctx context.Context) error {
	labels := map[string]any{}
	for _, k := range managedLabels {
		labels[k] = nil
	}
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels": labels, "annotations": map[string]any{contract.AnnotationInventory: nil}}})
	if err != nil {
		return fmt.Errorf("encoding patch: %w", err)
	}
	if _, err := p.Client.CoreV1().Nodes().Patch(ctx, p.Node, types.MergePatchType, b, metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("withdrawing the inventory of node %s: %w", p.Node, err)
	}
	return nil
}

// handOverTimeout bounds handOver's calls, made after the agent's context
// ended.
const handOverTimeout = 10 * time.Second

// handOver withdraws the inventory when the agent stops because its node was
// moved to DRA mode (labelled contract.LabelAgentMode=dra, which takes the
// device-plugin DaemonSet's pod away): the scheduler and the autoscaler then
// stop counting device-plugin capacity on a node whose cards the DRA
// driver's ResourceSlice now offers. On any other stop (a rollout, a
// restart) the inventory stays.
func (p *Publisher) handOver(ctx context.Context) {
	logger := klog.FromContext(ctx)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handOverTimeout)
	defer cancel()
	node, err := p.Client.CoreV1().Nodes().Get(ctx, p.Node, metav1.GetOptions{})
	if err != nil {
		logger.Error(err, "Cannot read the node at stop; its inventory stays", "node", p.Node)
		return
	}
	if node.Labels[contract.LabelAgentMode] != contract.AgentModeDRA {
		return
	}
	if err := p.Withdraw(ctx); err != nil {
		logger.Error(err, "Node moved to DRA mode but its device-plugin inventory stays; remove it by hand", "node", p.Node,
			"annotation", contract.AnnotationInventory)
		return
	}
	logger.Info("Node moved to DRA mode: withdrew its device-plugin inventory", "node", p.Node)
}
