package core

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/gantry-dev/gantry/autoscaler/apis/config"
	"github.com/gantry-dev/gantry/autoscaler/apis/config/validation"
)

type schedule struct {
	config.ScheduledMinimum
	sched cron.Schedule
}

func parseSchedules(in []config.ScheduledMinimum) ([]schedule, error) {
	out := make([]schedule, 0, len(in))
	for _, s := range in {
		c, err := validation.CronParser.Parse(s.Schedule)
		if err != nil {
			return nil, fmt.Errorf("scheduled minimum %q: %w", s.Name, err)
		}
		out = append(out, schedule{ScheduledMinimum: s, sched: c})
	}
	return out, nil
}

// active reports whether a window of s is open at now: the schedule fired
// at some t with now-Duration < t <= now.
func (s schedule) active(now time.Time) bool {
	return !s.sched.Next(now.Add(-s.Duration)).After(now)
}

// minimum returns the group's minimum at now: its configured minimum or a
// higher scheduled one whose window is open.
func (a *Autoscaler) minimum(g string, configured int, now time.Time) int {
	m := configured
	for _, s := range a.schedules {
		if s.Group == g && s.active(now) {
			m = max(m, s.MinSize)
		}
	}
	return m
}
