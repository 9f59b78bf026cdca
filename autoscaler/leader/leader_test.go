package leader

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// LeaseDurationSeconds is whole seconds: shorter leases expire at once.
func testConfig(id string) Config {
	return Config{Namespace: "kube-system", Name: "gantry-autoscaler", Identity: id,
		LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func holder(t *testing.T, client *fake.Clientset) string {
	l, err := client.CoordinationV1().Leases("kube-system").Get(context.Background(), "gantry-autoscaler", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// One of two candidates leads; the other's function does not run until the
// leader's context ends and it releases the lease.
func TestOnlyTheLeaderRuns(t *testing.T) {
	client := fake.NewClientset()
	var running [2]atomic.Bool
	ctxs := [2]context.Context{}
	cancels := [2]context.CancelFunc{}
	results := [2]chan error{make(chan error, 1), make(chan error, 1)}
	ids := [2]string{"a", "b"}
	for i := range ids {
		ctxs[i], cancels[i] = context.WithCancel(context.Background())
		defer cancels[i]()
		go func() {
			results[i] <- Run(ctxs[i], client, testConfig(ids[i]), func(ctx context.Context) {
				running[i].Store(true)
				<-ctx.Done()
				running[i].Store(false)
			})
		}()
		if i == 0 {
			waitFor(t, "a to lead", running[0].Load)
		}
	}
	if h := holder(t, client); h != "a" {
		t.Fatalf("lease holder %q, want a", h)
	}
	time.Sleep(300 * time.Millisecond)
	if running[1].Load() {
		t.Fatal("b runs while a leads")
	}
	cancels[0]()
	if err := <-results[0]; err != nil {
		t.Fatalf("Run after cancel: %v, want nil", err)
	}
	if running[0].Load() {
		t.Fatal("Run returned before the function did")
	}
	waitFor(t, "b to lead after a released", running[1].Load)
	if h := holder(t, client); h != "b" {
		t.Fatalf("lease holder %q, want b", h)
	}
	cancels[1]()
	if err := <-results[1]; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

// A leader that cannot renew reports ErrLost at once, while its function
// is still busy (the caller exits; the function's context is cancelled).
func TestLostLeadership(t *testing.T) {
	client := fake.NewClientset()
	var running, failing atomic.Bool
	release := make(chan struct{})
	defer close(release)
	client.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, errors.New("apiserver unreachable")
		}
		return false, nil, nil
	})
	result := make(chan error, 1)
	go func() {
		result <- Run(context.Background(), client, testConfig(""), func(ctx context.Context) {
			running.Store(true)
			<-ctx.Done()
			<-release // a loop that does not stop promptly
			running.Store(false)
		})
	}()
	waitFor(t, "leading", running.Load)
	if h := holder(t, client); h == "" {
		t.Fatal("no holder identity in the lease")
	}
	failing.Store(true)
	select {
	case err := <-result:
		if !errors.Is(err, ErrLost) {
			t.Fatalf("Run: %v, want ErrLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after renewals failed")
	}
	if !running.Load() {
		t.Fatal("Run waited for the function to finish before reporting the lost lease")
	}
}

// Cancelled before it could lead: nil, and the function never ran.
func TestCancelledBeforeLeading(t *testing.T) {
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	other := make(chan error, 1)
	octx, ocancel := context.WithCancel(context.Background())
	defer ocancel()
	var leading atomic.Bool
	go func() {
		other <- Run(octx, client, testConfig("other"), func(ctx context.Context) { leading.Store(true); <-ctx.Done() })
	}()
	waitFor(t, "other to lead", leading.Load)
	ran := false
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	if err := Run(ctx, client, testConfig("me"), func(context.Context) { ran = true }); err != nil || ran {
		t.Fatalf("Run = %v, ran = %v; want nil, false", err, ran)
	}
	ocancel()
	<-other
}
