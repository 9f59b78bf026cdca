package source

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Client is a Source backed by an API server.
type Client struct {
	Client kubernetes.Interface
	// DeletePods deletes pods instead of evicting them (KWOK clusters,
	// where nothing else would finish the eviction's graceful stop).
	DeletePods bool
}

var (
	_ Source   = &Client{}
	_ Unmarker = &Client{}
)

// Nodes implements Source.
func (c *Client) Nodes(ctx context.Context) ([]*corev1.Node, error) {
	l, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	out := make([]*corev1.Node, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out, nil
}

// Pods implements Source.
func (c *Client) Pods(ctx context.Context) ([]*corev1.Pod, error) {
	l, err := c.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	out := make([]*corev1.Pod, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out, nil
}

// PodDisruptionBudgets implements Source.
func (c *Client) PodDisruptionBudgets(ctx context.Context) ([]*policyv1.PodDisruptionBudget, error) {
	l, err := c.Client.PolicyV1().PodDisruptionBudgets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("listing PodDisruptionBudgets: %w", err)
	}
	out := make([]*policyv1.PodDisruptionBudget, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out, nil
}

// MarkToBeDeleted implements Source.
func (c *Client) MarkToBeDeleted(ctx context.Context, name string) error {
	n, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting node %q: %w", name, err)
	}
	n = n.DeepCopy()
	markNode(n)
	if _, err := c.Client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("tainting node %q: %w", name, err)
	}
	return nil
}

// UnmarkToBeDeleted implements Unmarker.
func (c *Client) UnmarkToBeDeleted(ctx context.Context, name string) error {
	n, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting node %q: %w", name, err)
	}
	n = n.DeepCopy()
	unmarkNode(n)
	if _, err := c.Client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("untainting node %q: %w", name, err)
	}
	return nil
}

// Evict implements Source.
func (c *Client) Evict(ctx context.Context, p *corev1.Pod) error {
	var err error
	if c.DeletePods {
		err = c.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
	} else {
		err = c.Client.PolicyV1().Evictions(p.Namespace).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("evicting pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}
