package source

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
)

// Client is a Source backed by an API server: it reads nodes, pods and
// PodDisruptionBudgets from a shared informer factory's caches (watched,
// not listed every loop) and acts through the API. Pods leave their nodes
// only through the Eviction API, so every PodDisruptionBudget is enforced
// by the API server itself.
type Client struct {
	client kubernetes.Interface
	nodes  corelisters.NodeLister
	pods   corelisters.PodLister
	pdbs   policylisters.PodDisruptionBudgetLister
	// dra is nil until EnableDRA.
	dra *draListers
}

var (
	_ Source            = &Client{}
	_ Unmarker          = &Client{}
	_ TerminationWaiter = &Client{}
)

// NewInformerFactory returns the shared informer factory a Client reads
// from: managed fields are dropped from cached objects (the autoscaler
// caches every pod of the cluster).
func NewInformerFactory(client kubernetes.Interface) informers.SharedInformerFactory {
	return informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(stripManagedFields))
}

// stripManagedFields is a cache.TransformFunc dropping metadata.managedFields.
func stripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

var _ cache.TransformFunc = stripManagedFields

// NewClient registers the node, pod and PodDisruptionBudget informers on
// factory; start it with StartInformers before the first loop.
func NewClient(client kubernetes.Interface, factory informers.SharedInformerFactory) *Client {
	return &Client{
		client: client,
		nodes:  factory.Core().V1().Nodes().Lister(),
		pods:   factory.Core().V1().Pods().Lister(),
		pdbs:   factory.Policy().V1().PodDisruptionBudgets().Lister(),
	}
}

// NodeLister is the node cache, for providers that count nodes.
func (c *Client) NodeLister() corelisters.NodeLister { return c.nodes }

// StartInformers starts factory's informers and waits until their caches
// are filled, or fails when ctx ends first.
func StartInformers(ctx context.Context, factory informers.SharedInformerFactory) error {
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer cache for %v not synced: %w", typ, context.Cause(ctx))
		}
	}
	return nil
}

// Nodes implements Source. The objects are the cache's: never modify them.
func (c *Client) Nodes(context.Context) ([]*corev1.Node, error) {
	out, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	return out, nil
}

// Pods implements Source. The objects are the cache's: never modify them.
func (c *Client) Pods(context.Context) ([]*corev1.Pod, error) {
	out, err := c.pods.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	return out, nil
}

// PodDisruptionBudgets implements Source.
func (c *Client) PodDisruptionBudgets(context.Context) ([]*policyv1.PodDisruptionBudget, error) {
	out, err := c.pdbs.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing PodDisruptionBudgets: %w", err)
	}
	return out, nil
}

// MarkToBeDeleted implements Source.
func (c *Client) MarkToBeDeleted(ctx context.Context, name string) error {
	return c.editNode(ctx, name, markNode, "tainting")
}

// UnmarkToBeDeleted implements Unmarker.
func (c *Client) UnmarkToBeDeleted(ctx context.Context, name string) error {
	return c.editNode(ctx, name, unmarkNode, "untainting")
}

// editNode reads the node from the API server (not the cache, so the
// update is against the latest version) and updates an edited copy.
func (c *Client) editNode(ctx context.Context, name string, edit func(*corev1.Node), verb string) error {
	n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting node %q: %w", name, err)
	}
	n = n.DeepCopy()
	edit(n)
	if _, err := c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("%s node %q: %w", verb, name, err)
	}
	return nil
}

// Evict implements Source with a policy/v1 Eviction, conditional on the
// pod's UID. A refusal because of a PodDisruptionBudget (429) is an
// *EvictionRefusedError; a pod already gone is not an error.
func (c *Client) Evict(ctx context.Context, p *corev1.Pod) error {
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
	if p.UID != "" {
		ev.DeleteOptions = &metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(p.UID))}
	}
	err := c.client.PolicyV1().Evictions(p.Namespace).Evict(ctx, ev)
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err) && p.UID != "":
		return nil // the UID precondition failed: that pod is gone
	case apierrors.IsTooManyRequests(err):
		return &EvictionRefusedError{Pod: p.Namespace + "/" + p.Name, Err: err}
	}
	return fmt.Errorf("evicting pod %s/%s: %w", p.Namespace, p.Name, err)
}

// PodGone implements TerminationWaiter from the pod cache: the pod is gone
// once no pod of that namespace, name and UID is left.
func (c *Client) PodGone(_ context.Context, p *corev1.Pod) (bool, error) {
	cur, err := c.pods.Pods(p.Namespace).Get(p.Name)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("getting pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return p.UID != "" && cur.UID != p.UID, nil
}

// EvictionRefusedError is returned by Evict when the API server refuses an
// eviction because a PodDisruptionBudget allows no disruption now; the
// caller may retry later.
type EvictionRefusedError struct {
	Pod string
	Err error
}

func (e *EvictionRefusedError) Error() string {
	return fmt.Sprintf("eviction of pod %s refused: %v", e.Pod, e.Err)
}

func (e *EvictionRefusedError) Unwrap() error { return e.Err }

// IsEvictionRefused reports whether err is or wraps an
// *EvictionRefusedError.
func IsEvictionRefused(err error) bool {
	var e *EvictionRefusedError
	return errors.As(err, &e)
}
