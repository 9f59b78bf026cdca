package health

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Check records the loop's progress and answers the probes.
type Check struct {
	clock         clock.PassiveClock
	maxInactivity time.Duration
	maxFailing    time.Duration

	mu         sync.Mutex
	synced     bool
	leading    bool
	started    time.Time // when this replica began leading
	active     time.Time // the last loop start or end
	succeeded  time.Time // the last loop that returned no error
	firstRunOK bool
}

// New returns a Check; a loop is stalled after maxInactivity without a
// loop starting or ending, or maxFailing without a successful loop.
func New(c clock.PassiveClock, maxInactivity, maxFailing time.Duration) *Check {
	return &Check{clock: c, maxInactivity: maxInactivity, maxFailing: maxFailing}
}

// Synced records that the informer caches are filled.
func (c *Check) Synced() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced = true
}

// StartedLeading starts watching the loop: the clocks begin now.
func (c *Check) StartedLeading() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	c.leading, c.started, c.active, c.succeeded = true, now, now, now
}

// LoopStarted records activity at the start of a loop.
func (c *Check) LoopStarted() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = c.clock.Now()
}

// LoopDone records the end of a loop and whether it succeeded.
func (c *Check) LoopDone(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	c.active = now
	if err == nil {
		c.succeeded = now
		c.firstRunOK = true
	}
}

// Live returns nil while the loop makes progress (or this replica does not
// lead), else why it is stalled.
func (c *Check) Live() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.leading {
		return nil
	}
	now := c.clock.Now()
	if d := now.Sub(c.active); d > c.maxInactivity {
		return fmt.Errorf("the loop has been inactive for %v (more than %v)", d.Round(time.Second), c.maxInactivity)
	}
	if d := now.Sub(c.succeeded); d > c.maxFailing {
		return fmt.Errorf("no loop has succeeded for %v (more than %v)", d.Round(time.Second), c.maxFailing)
	}
	return nil
}

// Ready returns nil once the caches are synced and, while leading, a first
// loop has succeeded.
func (c *Check) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.synced:
		return fmt.Errorf("informer caches are not synced yet")
	case c.leading && !c.firstRunOK:
		return fmt.Errorf("leading since %v, no loop has succeeded yet", c.started.Format(time.RFC3339))
	}
	return nil
}

// Handler serves /healthz (Live) and /readyz (Ready): 200 "ok", or 500
// with the reason.
func (c *Check) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", serve(c.Live))
	mux.HandleFunc("/readyz", serve(c.Ready))
	return mux
}

func serve(check func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if err := check(); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ok")
	}
}
