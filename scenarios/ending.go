package scenarios

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The ending handler: one per process. A test process can end without
// running its cleanups in two ways, SIGINT/SIGTERM (Ctrl-C, a CI runner
// cancelling) and the panic of `go test -timeout`; whatever it set up
// (faults injected, systems started) would be left behind. AtEnd hooks run
// in both cases, in order of stage, so that faults are reverted before the
// systems they act on are torn down.

// Stage orders end hooks: lower stages run first, hooks of one stage run
// in parallel.
type Stage int

const (
	// StageFaults reverts faults (faults.Injector.Guard).
	StageFaults Stage = 10
	// StageSystems tears down systems ([Start], [StartContext]).
	StageSystems Stage = 20
)

// String is "faults", "attached", "systems" or "stage N".
func (s Stage) String() string {
	switch s {
	case StageFaults:
		return "faults"
	case StageAttached:
		return "attached"
	case StageSystems:
		return "systems"
	}
	return fmt.Sprintf("stage %d", int(s))
}

// EndMargin is how long before the test binary's -timeout deadline the end
// hooks run (at most a quarter of the time left when the watchdog is armed).
// [WithWatchdogMargin] can ask for more.
const EndMargin = 5 * time.Second

// EndSignalTimeout bounds each stage of the end hooks run on SIGINT or
// SIGTERM.
const EndSignalTimeout = 10 * time.Second

// AtEnd registers fn to run if the process ends early: on SIGINT/SIGTERM, or
// shortly before the test binary's -timeout (which runs no cleanups). Hooks
// run in order of stage (faults are reverted before systems are torn down),
// each stage bounded by a timeout; a hook runs at most once. After a signal
// the signal is raised again, so the process ends as it would have.
//
// The first tb with a deadline arms the process's one watchdog: every test
// of a binary shares the -timeout. tb may be nil (no deadline is learnt
// from it).
//
// It returns a function that unregisters the hook; it is also unregistered
// by tb.Cleanup, registered now, so that it runs after cleanups registered
// later (the normal path) have run.
//
//nolint:thelper // tb may be nil (no deadline is learnt); Helper is called when it is not
func AtEnd(tb testing.TB, stage Stage, name string, fn func(ctx context.Context) error) (unregister func()) {
	if tb != nil {
		tb.Helper()
	}
	unregister = procEnding.add(stage, name, fn)
	if tb != nil {
		if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
			if dl, ok := d.Deadline(); ok {
				procEnding.arm(dl)
			}
		}
		tb.Cleanup(unregister)
	}
	return unregister
}

// procEnding is the process's ending handler (with live, the package's only
// global state: signals and the -timeout deadline are process-wide).
var procEnding = newEnding()

type endHook struct {
	id    uint64
	stage Stage
	name  string
	fn    func(ctx context.Context) error
}

type ending struct {
	// out receives the handler's messages (os.Stderr: a dying process's
	// t.Logf may never be printed).
	out func(format string, args ...any)
	// notify subscribes c to SIGINT and SIGTERM; raise re-raises a signal
	// once the hooks have run.
	notify func(c chan<- os.Signal)
	raise  func(sig os.Signal)

	mu       sync.Mutex
	hooks    []*endHook
	next     uint64
	signals  bool          // the signal handler is installed
	deadline time.Time     // the -timeout deadline, once known
	left     time.Duration // time left when it was first learnt
	margin   time.Duration
	timer    *time.Timer
}

func newEnding() *ending {
	return &ending{
		out:    func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
		notify: func(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) },
		raise:  reraise,
		margin: EndMargin,
	}
}

// add registers a hook and installs the signal handler on first use.
func (e *ending) add(stage Stage, name string, fn func(ctx context.Context) error) func() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.next++
	h := &endHook{id: e.next, stage: stage, name: name, fn: fn}
	e.hooks = append(e.hooks, h)
	if !e.signals {
		e.signals = true
		e.handleSignals()
	}
	return sync.OnceFunc(func() { e.remove(h.id) })
}

func (e *ending) remove(id uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hooks = slices.DeleteFunc(e.hooks, func(h *endHook) bool { return h.id == id })
}

// take removes and returns every hook, sorted by stage then registration.
func (e *ending) take() []*endHook {
	e.mu.Lock()
	defer e.mu.Unlock()
	hs := e.hooks
	e.hooks = nil
	slices.SortStableFunc(hs, func(a, b *endHook) int { return int(a.stage) - int(b.stage) })
	return hs
}

// arm learns the -timeout deadline: the first one seen arms the watchdog.
func (e *ending) arm(deadline time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.deadline.IsZero() {
		return
	}
	e.deadline, e.left = deadline, time.Until(deadline)
	e.resetLocked()
}

// wantMargin asks the watchdog to fire at least d before the deadline.
func (e *ending) wantMargin(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d <= e.margin {
		return
	}
	e.margin = d
	if e.timer != nil {
		e.resetLocked()
	}
}

// resetLocked (re)starts the watchdog: margin before the deadline, at most a
// quarter of the time that was left when the deadline was learnt.
func (e *ending) resetLocked() {
	margin := min(e.margin, e.left/4)
	fire := time.Until(e.deadline.Add(-margin))
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timer = time.AfterFunc(fire, func() {
		left := time.Until(e.deadline)
		e.run(fmt.Sprintf("the test binary's -timeout is %v away", left.Round(time.Millisecond)), func(stagesLeft int) time.Duration {
			// Share what is left among the stages still to run.
			return max(time.Until(e.deadline)-50*time.Millisecond, 0) / time.Duration(stagesLeft)
		})
	})
}

// run runs every hook, stage by stage, each stage bounded by budget(number
// of stages still to run, this one included).
func (e *ending) run(why string, budget func(stagesLeft int) time.Duration) {
	hooks := e.take()
	if len(hooks) == 0 {
		return
	}
	var stages [][]*endHook
	for i, h := range hooks {
		if i == 0 || h.stage != hooks[i-1].stage {
			stages = append(stages, nil)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], h)
	}
	names := make([]string, len(hooks))
	for i, h := range hooks {
		names[i] = h.name
	}
	e.out("firedrill: %s: ending early: %s", why, strings.Join(names, ", then "))
	for i, stage := range stages {
		ctx, cancel := context.WithTimeout(context.Background(), budget(len(stages)-i))
		var wg sync.WaitGroup
		for _, h := range stage {
			wg.Go(func() {
				if err := runHook(ctx, h); err != nil {
					e.out("firedrill: %s: %s: %v", why, h.name, err)
				}
			})
		}
		wg.Wait()
		cancel()
	}
}

// runHook runs one hook; a panic in it is an error, not the end of the
// others.
func runHook(ctx context.Context, h *endHook) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return h.fn(ctx)
}

// handleSignals runs the hooks on SIGINT or SIGTERM, then re-raises the
// signal with its default action. Called once, with e.mu held.
func (e *ending) handleSignals() {
	ch := make(chan os.Signal, 1)
	e.notify(ch)
	go func() {
		sig := <-ch
		e.run(sig.String(), func(int) time.Duration { return EndSignalTimeout })
		e.raise(sig)
	}()
}

// reraise sends sig to the process again, its handler reset: the process
// dies as it would have.
func reraise(sig os.Signal) {
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(os.Getpid(), s)
	}
	time.Sleep(time.Second) // the re-raised signal ends the process
	os.Exit(2)
}
