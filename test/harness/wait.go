package harness

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// pollInterval is how often the harness re-checks a condition.
const pollInterval = 100 * time.Millisecond

// Poll calls cond every interval until it reports done, returns an error, ctx
// ends or timeout passes, whichever comes first. On timeout the error names
// what was awaited (desc) and wraps the last error cond reported through
// lastErr, so a failing wait says why.
//
// cond returns (done, lastErr, fatal): a non-nil fatal ends the wait at once.
// A timeout <= 0 means "until ctx ends"; callers then bound ctx themselves.
func Poll(ctx context.Context, timeout, interval time.Duration, desc string, cond func(ctx context.Context) (done bool, lastErr, fatal error)) error {
	if interval <= 0 {
		interval = pollInterval
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var last error
	for {
		done, lastErr, fatal := cond(ctx)
		if fatal != nil {
			return fmt.Errorf("%s: %w", desc, fatal)
		}
		if done {
			return nil
		}
		if lastErr != nil {
			last = lastErr
		}
		select {
		case <-ctx.Done():
			if last != nil && !errors.Is(last, ctx.Err()) {
				return fmt.Errorf("%s: gave up (%w): %w", desc, ctx.Err(), last)
			}
			return fmt.Errorf("%s: gave up: %w", desc, ctx.Err())
		case <-ticker.C:
		}
	}
}

// exitedError reports a supervised process that exited while the harness was
// waiting for it.
func exitedError(p *Process) error {
	return fmt.Errorf("%s exited: %s (log: %s)", p.Name(), exitDescription(p.err), p.LogPath())
}
