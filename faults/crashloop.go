package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// CrashLoopFault kills a container N times, Interval apart, starting it
// again after each kill as a restart policy would: the process crashes,
// comes back, and crashes again. Inject sends the first kill and returns;
// the rest happens in the background until the N-th kill or Revert, which
// stops the loop and leaves the container running and ready.
type CrashLoopFault struct {
	crashLoopSpec

	mu      sync.Mutex
	running bool
	cancel  context.CancelFunc
	done    chan struct{}
	kills   int
	loopErr error
}

// crashLoopSpec is what a CrashLoopFault is, apart from its state.
type crashLoopSpec struct {
	c        ContainerTarget
	n        int
	interval time.Duration
	signal   string
	poll     time.Duration
}

var _ Fault = (*CrashLoopFault)(nil)
var _ Validator = (*CrashLoopFault)(nil)
var _ Lasting = (*CrashLoopFault)(nil)

// CrashLoop kills c n times, interval apart, with SIGKILL.
func CrashLoop(c ContainerTarget, n int, interval time.Duration) *CrashLoopFault {
	return &CrashLoopFault{crashLoopSpec: crashLoopSpec{c: c, n: n, interval: interval, signal: "SIGKILL", poll: 10 * time.Millisecond}}
}

// Signal is f with s as the signal of each kill (a new fault: f is
// unchanged).
func (f *CrashLoopFault) Signal(s string) *CrashLoopFault {
	l := f.crashLoopSpec
	l.signal = s
	return &CrashLoopFault{crashLoopSpec: l}
}

// Name is "crashloop(<container>, <n>x every <interval>)".
func (f *CrashLoopFault) Name() string {
	return fmt.Sprintf("crashloop(%s, %dx every %v, %s)", nameOf(f.c), f.n, f.interval, f.signal)
}

// Validate checks the target, count, interval and signal.
func (f *CrashLoopFault) Validate() error {
	if err := validContainer("crashloop", f.c); err != nil {
		return err
	}
	if f.n < 1 {
		return fmt.Errorf("crashloop %s: %w: %d kills (want ≥ 1)", nameOf(f.c), ErrInvalid, f.n)
	}
	if f.interval <= 0 {
		return fmt.Errorf("crashloop %s: %w: interval %v", nameOf(f.c), ErrDuration, f.interval)
	}
	if !validSignal(f.signal) {
		return fmt.Errorf("crashloop %s: %w: signal %q", nameOf(f.c), ErrInvalid, f.signal)
	}
	return nil
}

// Lasts is how long the loop goes on after Inject: the n-1 kills after the
// first, Interval apart.
func (f *CrashLoopFault) Lasts() time.Duration {
	return time.Duration(max(f.n-1, 0)) * f.interval
}

// Kills is how many kills have been sent so far.
func (f *CrashLoopFault) Kills() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kills
}

// Done is closed when the loop has finished (after the last kill's restart,
// or after Revert). Nil before Inject.
func (f *CrashLoopFault) Done() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done
}

// Inject sends the first kill and starts the loop.
func (f *CrashLoopFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		return nil
	}
	if err := f.c.Kill(ctx, f.signal); err != nil {
		return fmt.Errorf("inject %s: kill 1: %w", f.Name(), err)
	}
	f.kills = 1
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel, f.done, f.running, f.loopErr = cancel, make(chan struct{}), true, nil
	go f.loop(lctx, f.done)
	return nil
}

func (f *CrashLoopFault) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for i := 1; ; i++ {
		// Restart after the kill, as a restart policy would.
		if err := f.waitExited(ctx); err != nil {
			f.fail(err)
			return
		}
		if err := f.c.Start(ctx); err != nil {
			f.fail(fmt.Errorf("start after kill %d: %w", i, err))
			return
		}
		if i >= f.n {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := f.c.Kill(ctx, f.signal); err != nil {
			f.fail(fmt.Errorf("kill %d: %w", i+1, err))
			return
		}
		f.mu.Lock()
		f.kills++
		f.mu.Unlock()
	}
}

func (f *CrashLoopFault) fail(err error) {
	if errors.Is(err, context.Canceled) || IsNotFound(err) {
		return
	}
	f.mu.Lock()
	f.loopErr = err
	f.mu.Unlock()
}

// waitExited polls until the killed container is no longer running.
func (f *CrashLoopFault) waitExited(ctx context.Context) error {
	for {
		st, err := f.c.State(ctx)
		if err != nil {
			return fmt.Errorf("read state: %w", err)
		}
		if !st.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.poll):
		}
	}
}

// Revert stops the loop and makes sure the container runs and is ready.
// An error the loop met (other than the container being gone) is reported.
func (f *CrashLoopFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	if !f.running {
		f.mu.Unlock()
		return nil
	}
	cancel, done := f.cancel, f.done
	f.mu.Unlock()
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("revert %s: wait for loop: %w", f.Name(), ctx.Err())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.loopErr
	if rerr := ensureRunning(ctx, f.c); rerr != nil {
		return fmt.Errorf("revert %s: %w", f.Name(), errors.Join(rerr, err))
	}
	f.running, f.loopErr = false, nil
	if err != nil {
		return fmt.Errorf("revert %s: loop: %w", f.Name(), err)
	}
	return nil
}
