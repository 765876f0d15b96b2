package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSignals stands in for the process's signals in an ending under test.
type fakeSignals struct {
	mu     sync.Mutex
	ch     chan<- os.Signal
	raised []os.Signal
	out    []string
}

func (f *fakeSignals) send(t *testing.T, sig os.Signal) {
	t.Helper()
	f.mu.Lock()
	ch := f.ch
	f.mu.Unlock()
	require.NotNil(t, ch, "the signal handler is installed")
	ch <- sig
}

func (f *fakeSignals) raisedSignals() []os.Signal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]os.Signal(nil), f.raised...)
}

func (f *fakeSignals) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.out, "\n")
}

// testEnding is an ending handler wired to fake signals, so that a unit test
// neither catches nor raises real ones.
func testEnding(t *testing.T) (*ending, *fakeSignals) {
	t.Helper()
	f := &fakeSignals{}
	e := newEnding()
	e.notify = func(c chan<- os.Signal) {
		f.mu.Lock()
		f.ch = c
		f.mu.Unlock()
	}
	e.raise = func(sig os.Signal) {
		f.mu.Lock()
		f.raised = append(f.raised, sig)
		f.mu.Unlock()
	}
	e.out = func(format string, args ...any) {
		f.mu.Lock()
		f.out = append(f.out, fmt.Sprintf(format, args...))
		f.mu.Unlock()
	}
	t.Cleanup(func() {
		e.mu.Lock()
		if e.timer != nil {
			e.timer.Stop()
		}
		e.mu.Unlock()
	})
	return e, f
}

// order records hook runs.
type order struct {
	mu  sync.Mutex
	ran []string
}

func (o *order) hook(name string, err error) func(context.Context) error {
	return func(ctx context.Context) error {
		o.mu.Lock()
		o.ran = append(o.ran, name)
		o.mu.Unlock()
		return err
	}
}

func (o *order) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ran...)
}

func TestEndingSignalRunsStagesInOrderThenReraises(t *testing.T) {
	t.Parallel()
	e, sigs := testEnding(t)
	var o order
	// Registered systems first, as a drill does (the system starts before
	// the faults are guarded): faults still run first.
	e.add(StageSystems, "system a", o.hook("system a", nil))
	e.add(StageSystems, "system b", o.hook("system b", errors.New("stuck")))
	e.add(StageFaults, "faults", o.hook("faults", nil))
	gone := e.add(StageFaults, "unregistered", o.hook("unregistered", nil))
	gone()

	sigs.send(t, syscall.SIGINT)
	require.Eventually(t, func() bool { return len(sigs.raisedSignals()) == 1 }, time.Second, time.Millisecond)
	ran := o.get()
	require.Len(t, ran, 3)
	assert.Equal(t, "faults", ran[0], "faults are reverted before systems are torn down")
	assert.ElementsMatch(t, []string{"system a", "system b"}, ran[1:])
	assert.Equal(t, []os.Signal{syscall.SIGINT}, sigs.raisedSignals(), "the signal is raised again")
	out := sigs.output()
	assert.Contains(t, out, "interrupt: ending early: faults, then system")
	assert.Contains(t, out, "system b: stuck", "a hook's error is printed")
	assert.NotContains(t, out, "unregistered")
	assert.Empty(t, e.take(), "a hook runs at most once")
}

func TestEndingDeadlineRunsHooksBeforeIt(t *testing.T) {
	t.Parallel()
	e, sigs := testEnding(t)
	deadline := time.Now().Add(800 * time.Millisecond)
	var mu sync.Mutex
	var at []time.Time
	var budgets []time.Time
	hook := func(ctx context.Context) error {
		dl, ok := ctx.Deadline()
		mu.Lock()
		defer mu.Unlock()
		at = append(at, time.Now())
		if ok {
			budgets = append(budgets, dl)
		}
		return nil
	}
	e.add(StageFaults, "faults", hook)
	e.add(StageSystems, "system", hook)
	e.arm(deadline)
	e.arm(time.Now().Add(time.Hour)) // the first deadline seen wins
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(at) == 2 }, 2*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for i := range at {
		assert.True(t, at[i].Before(deadline), "hook %d ran before the deadline", i)
		// margin = min(5s, 800ms/4) = 200ms before the deadline.
		assert.WithinDuration(t, deadline.Add(-200*time.Millisecond), at[i], 150*time.Millisecond)
	}
	require.Len(t, budgets, 2)
	assert.True(t, budgets[0].Before(deadline), "the faults stage does not get all the time left")
	assert.True(t, budgets[0].Before(budgets[1]), "the systems stage gets what is left")
	assert.False(t, budgets[1].After(deadline))
	assert.Contains(t, sigs.output(), "-timeout is")
	assert.Empty(t, sigs.raisedSignals(), "no signal is raised at the deadline")
}

func TestEndingMarginAskedForMoves(t *testing.T) {
	t.Parallel()
	e, _ := testEnding(t)
	ran := make(chan time.Time, 1)
	e.add(StageSystems, "system", func(context.Context) error { ran <- time.Now(); return nil })
	deadline := time.Now().Add(4 * time.Second)
	e.arm(deadline)           // margin min(5s, 1s) = 1s: at +3s
	e.wantMargin(time.Second) // not more than 5s: unchanged
	e.wantMargin(time.Minute) // still at most a quarter of the time left
	select {
	case at := <-ran:
		t.Fatalf("ran at %v before the deadline: too early", deadline.Sub(at))
	case <-time.After(2500 * time.Millisecond):
	}
	at := <-ran
	assert.WithinDuration(t, deadline.Add(-time.Second), at, 300*time.Millisecond)
}

func TestEndingHookPanicDoesNotStopTheOthers(t *testing.T) {
	t.Parallel()
	e, sigs := testEnding(t)
	var o order
	e.add(StageFaults, "panics", func(context.Context) error { panic("boom") })
	e.add(StageSystems, "system", o.hook("system", nil))
	sigs.send(t, syscall.SIGTERM)
	require.Eventually(t, func() bool { return len(sigs.raisedSignals()) == 1 }, time.Second, time.Millisecond)
	assert.Equal(t, []string{"system"}, o.get())
	assert.Contains(t, sigs.output(), "panics: panic: boom")
}

// AtEnd unregisters the hook when the test that registered it ends.
func TestAtEndUnregistersAtCleanup(t *testing.T) {
	name := "hook of " + t.Name()
	has := func() bool {
		procEnding.mu.Lock()
		defer procEnding.mu.Unlock()
		for _, h := range procEnding.hooks {
			if h.name == name {
				return true
			}
		}
		return false
	}
	t.Run("inner", func(t *testing.T) {
		AtEnd(t, StageFaults, name, func(context.Context) error { return nil })
		assert.True(t, has(), "registered")
	})
	assert.False(t, has(), "unregistered by t.Cleanup")
	unregister := AtEnd(nil, StageFaults, name, func(context.Context) error { return nil })
	assert.True(t, has())
	unregister()
	unregister()
	assert.False(t, has(), "unregistered by the returned function")
}
