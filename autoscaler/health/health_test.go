package health

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clocktesting "k8s.io/utils/clock/testing"
)

func probe(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, strings.TrimSpace(rec.Body.String())
}

func TestProbesFollowTheLoop(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	c := New(clk, 10*time.Minute, 15*time.Minute)
	h := c.Handler()
	steps := []struct {
		name      string
		do        func()
		live      int
		ready     int
		readyBody string
		liveBody  string
	}{
		{name: "starting", do: func() {}, live: 200, ready: 500, readyBody: "informer caches are not synced yet"},
		{name: "synced, waiting for the lease", do: c.Synced, live: 200, ready: 200},
		{name: "a standby never stalls", do: func() { clk.SetTime(clk.Now().Add(time.Hour)) }, live: 200, ready: 200},
		{name: "leading, no loop yet", do: c.StartedLeading, live: 200, ready: 500, readyBody: "no loop has succeeded yet"},
		{name: "first loop done", do: func() { c.LoopStarted(); c.LoopDone(nil) }, live: 200, ready: 200},
		{name: "a loop running 9 minutes", do: func() { c.LoopStarted(); clk.SetTime(clk.Now().Add(9 * time.Minute)) }, live: 200, ready: 200},
		{name: "a loop stuck 11 minutes", do: func() { clk.SetTime(clk.Now().Add(2 * time.Minute)) }, live: 500, ready: 200,
			liveBody: "the loop has been inactive for 11m0s (more than 10m0s)"},
		{name: "loops run again but fail", do: func() {
			for i := 0; i < 5; i++ {
				c.LoopStarted()
				clk.SetTime(clk.Now().Add(time.Minute))
				c.LoopDone(errors.New("apiserver down"))
			}
		}, live: 500, ready: 200, liveBody: "no loop has succeeded for 16m0s (more than 15m0s)"},
		{name: "a loop succeeds", do: func() { c.LoopStarted(); c.LoopDone(nil) }, live: 200, ready: 200},
	}
	for _, s := range steps {
		s.do()
		code, body := probe(t, h, "/healthz")
		assert.Equal(t, s.live, code, "%s: /healthz %s", s.name, body)
		if s.liveBody != "" {
			assert.Equal(t, s.liveBody, body, s.name)
		}
		code, body = probe(t, h, "/readyz")
		require.Equal(t, s.ready, code, "%s: /readyz %s", s.name, body)
		if s.readyBody != "" {
			assert.Contains(t, body, s.readyBody, s.name)
		}
	}
}
