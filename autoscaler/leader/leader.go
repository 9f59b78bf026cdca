// Package leader runs a function only while this process holds a
// coordination.k8s.io Lease, the way Cluster Autoscaler runs its loop: one
// replica acts, the others wait, and a replica that loses the lease stops.
package leader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// ErrLost is returned by Run when the lease was lost while leading; the
// caller should exit so that a fresh process competes again.
var ErrLost = errors.New("leader election lost")

// Config names the Lease and its timings (client-go's leaderelection
// semantics: LeaseDuration > RenewDeadline > RetryPeriod).
type Config struct {
	Namespace, Name string
	// Identity is the holder identity written into the Lease; Identity()
	// when empty.
	Identity      string
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
}

// Identity is the hostname with a random suffix, so that two processes on
// one host never share an identity.
func Identity() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("leader election identity: %w", err)
	}
	return host + "_" + string(uuid.NewUUID()), nil
}

// Run blocks until ctx is done or the lease is lost. fn runs (once) while
// this process leads, with a context cancelled when leadership ends. When
// ctx ends, Run waits for fn to return, releases the lease and returns
// nil. When the lease is lost, Run returns ErrLost at once, without
// waiting for fn: fn's context is cancelled, but whatever it is in the
// middle of may still be running, and the caller must exit the process
// right away, so that no action is taken by two leaders (as Cluster
// Autoscaler and kube-scheduler do).
func Run(ctx context.Context, client kubernetes.Interface, c Config, fn func(ctx context.Context)) error {
	if c.Identity == "" {
		id, err := Identity()
		if err != nil {
			return err
		}
		c.Identity = id
	}
	rl, err := resourcelock.New(resourcelock.LeasesResourceLock, c.Namespace, c.Name,
		client.CoreV1(), client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: c.Identity})
	if err != nil {
		return err
	}
	lock := &trackingLock{Interface: rl}
	logger := klog.FromContext(ctx).WithValues("lease", c.Namespace+"/"+c.Name, "identity", c.Identity)
	done := make(chan struct{})
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   c.LeaseDuration,
		RenewDeadline:   c.RenewDeadline,
		RetryPeriod:     c.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            c.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				defer close(done)
				logger.Info("Started leading")
				fn(ctx)
			},
			OnStoppedLeading: func() { logger.Info("Stopped leading") },
			OnNewLeader: func(id string) {
				if id != c.Identity {
					logger.Info("Another replica leads", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	// le.Run returns once leadership ends, or once ctx ends before it
	// began; after acquiring it starts OnStartedLeading on a goroutine.
	le.Run(ctx)
	if !lock.acquired.Load() {
		return nil // ctx ended before this process led
	}
	if ctx.Err() == nil {
		return ErrLost
	}
	<-done
	return nil
}

// trackingLock records whether this process ever wrote the Lease, i.e.
// acquired it (every write by the elector follows an acquisition).
type trackingLock struct {
	resourcelock.Interface
	acquired atomic.Bool
}

func (l *trackingLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Create(ctx, r)
	if err == nil {
		l.acquired.Store(true)
	}
	return err
}

func (l *trackingLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Update(ctx, r)
	if err == nil {
		l.acquired.Store(true)
	}
	return err
}
