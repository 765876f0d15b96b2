// Package backoff holds the retry policy of the pipeline's processes: capped
// exponential backoff with jitter, so a dependency outage makes a process wait
// and retry rather than crash-loop or hammer the dependency.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy returns how long to wait before retry number attempt (1 for the
// first retry).
type Policy func(attempt int) time.Duration

// Default is the policy the loader uses: 100 ms doubling up to 5 s, with
// "equal jitter" (a uniform draw in [d/2, d]).
var Default = Exponential(100*time.Millisecond, 5*time.Second, rand.Float64)

// Exponential returns base·2^(attempt-1), capped at max, jittered to a
// uniform draw in [d/2, d] using rnd (a source of floats in [0, 1); nil
// means math/rand/v2's Float64).
func Exponential(base, max time.Duration, rnd func() float64) Policy {
	if rnd == nil {
		rnd = rand.Float64
	}
	return func(attempt int) time.Duration {
		if attempt < 1 {
			attempt = 1
		}
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		if d > max {
			d = max
		}
		half := d / 2
		return half + time.Duration(rnd()*float64(d-half))
	}
}

// Sleep waits for d or until ctx is done, whichever comes first, and reports
// whether the full wait happened.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
