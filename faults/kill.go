package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/scenarios"
)

// KillFault sends a signal to a container's main process (SIGKILL by
// default), as a crash does. Revert starts the container again and waits
// for it to be ready, unless it is running already (restarted by the
// system's own recovery, say) or KeepDown was asked for.
//
// What the restart keeps, as a machine's reboot would: it is the same
// container, so its own filesystem, its named volumes and its bind mounts
// are as the process left them. A tmpfs mount is not: Docker empties it
// whenever the container starts, and a stateful member that kept its data
// there (a consensus member's data directory, say) comes back with none and
// may refuse to rejoin. So the default is refused for a target that reports
// a tmpfs mount (TmpfsReader; *scenarios.Container does): the inject fails
// before anything is sent, naming the mounts and the choices: put the data
// on a volume, KeepDown (leave it down; the drill's runbook or the system
// brings it back), or AllowEmptyTmpfs (restart it with the tmpfs empty, for
// a cache or scratch space whose loss is the point).
type KillFault struct {
	killSpec

	mu     sync.Mutex
	killed bool
	direct Bracket // the kill(2) bracket, when the signal was sent directly
}

// ProcessSignaler is optionally implemented by a ContainerTarget whose main
// process this process can signal itself (a local daemon, the same PID
// namespace, the permission): Kill then sends the signal with kill(2) and
// the onset is that system call's own bracket, microseconds wide, instead
// of the Docker API's (whose kill call returns only after teardown).
// SignalProcess returns an error wrapping scenarios.ErrNotLocal, having
// sent nothing, when it cannot; Kill then uses the API.
// *scenarios.Container satisfies it.
type ProcessSignaler interface {
	SignalProcess(ctx context.Context, signal string) (sent, acked time.Time, err error)
}

// OnsetSignal is the onset source of a kill sent with kill(2).
const OnsetSignal = "kill(2) of the container's process"

// killSpec is what a KillFault is, apart from its state.
type killSpec struct {
	c          ContainerTarget
	signal     string
	keepDown   bool
	emptyTmpfs bool
}

// TmpfsReader is optionally implemented by a ContainerTarget to list its
// tmpfs mounts (container paths), which Docker empties whenever the
// container starts. *scenarios.Container satisfies it.
type TmpfsReader interface {
	TmpfsMounts(ctx context.Context) ([]string, error)
}

// preparer is a fault with checks that need the target, run by the
// Injector before the bracket opens.
type preparer interface {
	prepare(ctx context.Context) error
}

// ErrTmpfsRestart is the error of a fault whose revert would start a
// container again with its tmpfs mounts emptied, when that was not chosen.
var ErrTmpfsRestart = errors.New("starting the container again would empty its tmpfs")

// checkRestartKeepsData refuses a revert that starts c again while c has
// tmpfs mounts; choices names the fault's ways out.
func checkRestartKeepsData(ctx context.Context, c ContainerTarget, choices string) error {
	r, ok := c.(TmpfsReader)
	if !ok {
		return nil
	}
	mounts, err := r.TmpfsMounts(ctx)
	if err != nil {
		return fmt.Errorf("read %s's tmpfs mounts: %w", nameOf(c), err)
	}
	if len(mounts) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s has tmpfs %s, which Docker empties when it starts, so the revert would bring it back without that data; "+
		"keep state on a volume (ContainerSpec.Mounts, MountVolume) or the container's filesystem, or choose %s",
		ErrTmpfsRestart, nameOf(c), strings.Join(mounts, ", "), choices)
}

var _ Fault = (*KillFault)(nil)
var _ Validator = (*KillFault)(nil)

// Kill sends signal (e.g. "SIGKILL", "SIGTERM", "KILL", "9"; "" means
// SIGKILL) to c.
func Kill(c ContainerTarget, signal string) *KillFault {
	if signal == "" {
		signal = "SIGKILL"
	}
	return &KillFault{killSpec: killSpec{c: c, signal: signal}}
}

// KeepDown is f with a Revert that leaves the container as it is (a new
// fault: f is unchanged).
func (f *KillFault) KeepDown() *KillFault {
	k := f.killSpec
	k.keepDown = true
	return &KillFault{killSpec: k}
}

// AllowEmptyTmpfs is f with a Revert that starts the container again even
// though its tmpfs mounts come back empty (a new fault: f is unchanged).
func (f *KillFault) AllowEmptyTmpfs() *KillFault {
	k := f.killSpec
	k.emptyTmpfs = true
	return &KillFault{killSpec: k}
}

// prepare refuses the default revert on a container with tmpfs mounts.
func (f *KillFault) prepare(ctx context.Context) error {
	if f.keepDown || f.emptyTmpfs {
		return nil
	}
	return checkRestartKeepsData(ctx, f.c, ".KeepDown() or .AllowEmptyTmpfs()")
}

// Name is "kill(<container>, <signal>)".
func (f *KillFault) Name() string { return "kill(" + nameOf(f.c) + ", " + f.signal + ")" }

// Validate checks the target and the signal's spelling.
func (f *KillFault) Validate() error {
	if err := validContainer("kill", f.c); err != nil {
		return err
	}
	if !validSignal(f.signal) {
		return fmt.Errorf("kill %s: %w: signal %q", nameOf(f.c), ErrInvalid, f.signal)
	}
	return nil
}

// Inject sends the signal.
func (f *KillFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.direct = Bracket{}
	if ps, ok := f.c.(ProcessSignaler); ok {
		sent, acked, err := ps.SignalProcess(ctx, f.signal)
		switch {
		case err == nil:
			f.direct, f.killed = Bracket{Sent: sent, Acked: acked}, true
			// Return once the daemon has seen the exit, as the API's
			// kill does, so a revert right after finds it stopped.
			if err := waitNotRunning(ctx, f.c); err != nil {
				return fmt.Errorf("inject %s: %w", f.Name(), err)
			}
			return nil
		case !errors.Is(err, scenarios.ErrNotLocal):
			return fmt.Errorf("inject %s: %w", f.Name(), err)
		}
	}
	if err := f.c.Kill(ctx, f.signal); err != nil {
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	f.killed = true
	return nil
}

// waitNotRunning polls until the daemon reports c stopped (a process that
// ignores the signal keeps it running: then it gives up after 10s, with
// the fault in effect as far as the signal goes).
func waitNotRunning(ctx context.Context, c ContainerTarget) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := c.State(ctx)
		if err != nil || !st.Running {
			return nil //nolint:nilerr // gone or unreadable: nothing to wait for
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil // still running: the signal was not fatal
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Revert starts the container again if it is not running.
func (f *KillFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.killed || f.keepDown {
		f.killed = false
		return nil
	}
	if err := ensureRunning(ctx, f.c); err != nil {
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	f.killed = false
	return nil
}

func validSignal(s string) bool {
	if s == "" {
		return false
	}
	if strings.Trim(s, "0123456789") == "" {
		return len(s) <= 2
	}
	u := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if strings.HasPrefix(u, "RTMIN") || strings.HasPrefix(u, "RTMAX") {
		return true
	}
	switch u {
	case "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
		"USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
		"URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS":
		return true
	}
	return false
}
