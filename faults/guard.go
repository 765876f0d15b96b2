package faults

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// GuardMargin is how long before a test's -timeout deadline Guard reverts
// the faults in effect (at most a quarter of the time left).
const GuardMargin = 3 * time.Second

// Guard makes sure nothing inj injected outlives the test t:
//   - when t ends, pass, failure or panic (t.Cleanup);
//   - shortly before the test binary's -timeout deadline, since the panic
//     of a timeout runs no cleanup;
//   - on SIGINT or SIGTERM, after which the signal is raised again so that
//     the process ends as it would have.
//
// Call it before injecting anything. Errors of the final revert are
// reported with t.Errorf.
func (in *Injector) Guard(t testing.TB) {
	t.Helper()
	// RevertAll is idempotent and each fault's Revert is serialized, so
	// these may overlap harmlessly.
	revertAll := func(why string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := in.RevertAll(ctx); err != nil {
			return fmt.Errorf("%s: %w", why, err)
		}
		return nil
	}

	var timer *time.Timer
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			left := time.Until(dl)
			margin := min(GuardMargin, left/4)
			timer = time.AfterFunc(left-margin, func() {
				fmt.Fprintf(os.Stderr, "firedrill: faults: -timeout is %v away: reverting %d faults\n", margin.Round(time.Millisecond), len(in.Active()))
				if err := revertAll("faults: -timeout is near", margin); err != nil {
					fmt.Fprintln(os.Stderr, err)
				}
			})
		}
	}

	sigs := make(chan os.Signal, 1)
	stop := make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-stop:
			return
		case sig := <-sigs:
			fmt.Fprintf(os.Stderr, "firedrill: faults: %v: reverting %d faults\n", sig, len(in.Active()))
			if err := revertAll("faults: "+sig.String(), 10*time.Second); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			signal.Stop(sigs)
			if s, ok := sig.(syscall.Signal); ok {
				_ = syscall.Kill(os.Getpid(), s)
			}
		}
	}()

	t.Cleanup(func() {
		if timer != nil {
			timer.Stop()
		}
		signal.Stop(sigs)
		close(stop)
		if err := revertAll("revert faults at the end of "+t.Name(), 30*time.Second); err != nil {
			t.Errorf("%v", err)
		}
	})
}
