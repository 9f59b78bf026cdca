package core

import (
	"time"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
)

// backoff is the per-group exponential backoff after failed scale-ups: the
// first failure backs a group off for Initial, each failure after the
// previous backoff expired doubles it up to Max, and Reset after the last
// failure the group starts over.
type backoff struct {
	cfg    config.Backoff
	groups map[string]*backoffState
}

type backoffState struct {
	duration    time.Duration
	until       time.Time
	lastFailure time.Time
}

func (b *backoff) fail(group string, now time.Time) time.Time {
	s, ok := b.groups[group]
	switch {
	case !ok || now.Sub(s.lastFailure) > b.cfg.Reset:
		s = &backoffState{duration: b.cfg.Initial}
		b.groups[group] = s
	case !now.Before(s.until):
		s.duration = min(2*s.duration, b.cfg.Max)
	}
	s.until, s.lastFailure = now.Add(s.duration), now
	return s.until
}

func (b *backoff) until(group string, now time.Time) (time.Time, bool) {
	s, ok := b.groups[group]
	if !ok || !now.Before(s.until) {
		return time.Time{}, false
	}
	return s.until, true
}

func (b *backoff) backedOff(group string, now time.Time) bool {
	_, ok := b.until(group, now)
	return ok
}
