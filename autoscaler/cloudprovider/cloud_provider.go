package cloudprovider

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
)

// ErrNotImplemented is returned by optional methods a provider lacks.
var ErrNotImplemented = errors.New("not implemented")

// NotOwnedError is returned by DeleteNodes for a node the provider's own
// records (not a label) do not show it created in the group.
type NotOwnedError struct {
	Provider, Group string
}

func (e *NotOwnedError) Error() string {
	return fmt.Sprintf("not created by the %s provider in node group %q", e.Provider, e.Group)
}

// IsNotOwned reports whether err is or wraps a NotOwnedError.
func IsNotOwned(err error) bool {
	var e *NotOwnedError
	return errors.As(err, &e)
}

// LabelNodeGroup names, on every node the autoscaler creates from a
// template, the group the node belongs to, for node affinity and people.
// It is not proof of ownership: providers decide which nodes are theirs
// from their own records in NodeGroupForNode (the kwok provider's
// creation annotation, the Cluster API Machine's providerID).
const LabelNodeGroup = "gantry.dev/node-group"

// CloudProvider is the infrastructure the autoscaler resizes.
type CloudProvider interface {
	// Name returns the provider's name, e.g. "kwok".
	// Implementation required.
	Name() string

	// NodeGroups returns every group the autoscaler may resize.
	// Implementation required.
	NodeGroups() []NodeGroup

	// NodeGroupForNode returns the group node belongs to, or nil when the
	// autoscaler does not manage it. It must decide from the provider's
	// own records of the nodes it created, never from a label alone.
	// Implementation required.
	NodeGroupForNode(node *corev1.Node) (NodeGroup, error)

	// Refresh is called at the start of every loop to refresh cached
	// state (target sizes, templates).
	// Implementation optional: return nil.
	Refresh(ctx context.Context) error
}

// NodeGroup is a set of nodes with the same template.
type NodeGroup interface {
	// Id returns the group's unique name.
	// Implementation required.
	Id() string

	// Config returns the group's configuration: min/max, price, priority
	// and the template it was declared with.
	// Implementation required.
	Config() config.NodeGroup

	// TargetSize returns the number of nodes the group should have; it
	// may differ from the registered nodes while nodes start or stop.
	// Implementation required.
	TargetSize() (int, error)

	// IncreaseSize asks for delta more nodes. It returns once the request
	// is accepted, not when the nodes exist.
	// Implementation required.
	IncreaseSize(ctx context.Context, delta int) error

	// DeleteNodes removes the given nodes of the group and decreases the
	// target size by as many.
	// Implementation required.
	DeleteNodes(ctx context.Context, nodes []*corev1.Node) error

	// DecreaseTargetSize lowers the target by delta without deleting any
	// registered node: it withdraws requested nodes that never came.
	// Implementation required.
	DecreaseTargetSize(ctx context.Context, delta int) error

	// TemplateNode returns a node of the group as it would register, with
	// the Gantry inventory annotation, labels and allocatable, so that
	// the group scales from zero.
	// Implementation required.
	TemplateNode() (*corev1.Node, error)

	// Nodes returns the provider's instance names in the group.
	// Implementation optional: return ErrNotImplemented.
	Nodes() ([]string, error)
}
