package simulator

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/gantry-dev/gantry/scheduler/simulate"
)

// ShareSnapshot runs the real framework and plugin over a simulate.Cluster.
type ShareSnapshot struct {
	opts    simulate.Options
	cluster *simulate.Cluster
	sched   *simulate.Scheduler
}

var _ Snapshot = &ShareSnapshot{}

// NewShareSnapshot returns an empty snapshot scheduling with opts.
func NewShareSnapshot(ctx context.Context, opts simulate.Options) (*ShareSnapshot, error) {
	return newShare(ctx, opts, simulate.NewCluster())
}

func newShare(ctx context.Context, opts simulate.Options, c *simulate.Cluster) (*ShareSnapshot, error) {
	s, err := simulate.NewScheduler(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	return &ShareSnapshot{opts: opts, cluster: c, sched: s}, nil
}

// Cluster returns the underlying cluster.
func (s *ShareSnapshot) Cluster() *simulate.Cluster { return s.cluster }

// AddNode implements Snapshot.
func (s *ShareSnapshot) AddNode(node *corev1.Node) { s.cluster.AddNode(node, "") }

// RemoveNode implements Snapshot.
func (s *ShareSnapshot) RemoveNode(name string) { s.cluster.RemoveNode(name) }

// AddPod implements Snapshot.
func (s *ShareSnapshot) AddPod(pod *corev1.Pod) error { return s.cluster.Bind(pod) }

// RemovePod implements Snapshot.
func (s *ShareSnapshot) RemovePod(pod *corev1.Pod) error { return s.cluster.Unbind(pod) }

// Schedule implements Snapshot with one real scheduling cycle.
func (s *ShareSnapshot) Schedule(ctx context.Context, pod *corev1.Pod) (string, *corev1.Pod, string) {
	r := s.sched.Schedule(ctx, pod)
	if r.Status != nil {
		return "", nil, r.Status.Message()
	}
	return r.Node, r.Pod, ""
}

// Fork implements Snapshot.
func (s *ShareSnapshot) Fork(ctx context.Context) (Snapshot, error) {
	return newShare(ctx, s.opts, s.cluster.Fork())
}

// Empty implements Snapshot.
func (s *ShareSnapshot) Empty(ctx context.Context) (Snapshot, error) {
	return newShare(ctx, s.opts, simulate.NewCluster())
}

// Len implements Snapshot.
func (s *ShareSnapshot) Len() int { return s.cluster.Len() }
