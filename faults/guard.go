package faults

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/firedrill/firedrill/scenarios"
)

// Guard makes sure nothing the injector injected outlives the test tb:
//   - when tb ends, pass, failure or panic (tb.Cleanup);
//   - shortly before the test binary's -timeout deadline, since the panic
//     of a timeout runs no cleanup;
//   - on SIGINT or SIGTERM, after which the signal is raised again so that
//     the process ends as it would have.
//
// The last two go through the process's one ending handler
// (scenarios.AtEnd, at scenarios.StageFaults): faults are reverted before
// the systems started with scenarios.Start are torn down, within
// scenarios.EndMargin of the deadline.
//
// Call it before injecting anything. Errors of the final revert are
// reported with tb.Errorf, once per fault (see Injector.Failed).
func (in *Injector) Guard(tb testing.TB) {
	tb.Helper()
	// RevertAll is serialized and each fault is reverted at most until it
	// fails, so the hook and the cleanup may overlap harmlessly.
	scenarios.AtEnd(tb, scenarios.StageFaults, "reverting the faults of "+tb.Name(), func(ctx context.Context) error {
		fmt.Fprintf(os.Stderr, "firedrill: faults: reverting %d faults\n", len(in.Active()))
		return in.RevertAll(ctx)
	})
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := in.RevertAll(ctx); err != nil {
			tb.Errorf("revert faults at the end of %s: %v", tb.Name(), err)
		}
	})
}
