package faults

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// KillFault sends a signal to a container's main process (SIGKILL by
// default), as a crash does. Revert starts the container again and waits
// for it to be ready, unless it is running already (restarted by the
// system's own recovery, say) or KeepDown was asked for.
type KillFault struct {
	c        ContainerTarget
	signal   string
	keepDown bool

	mu     sync.Mutex
	killed bool
}

var _ Fault = (*KillFault)(nil)
var _ Validator = (*KillFault)(nil)

// Kill sends signal (e.g. "SIGKILL", "SIGTERM", "KILL", "9"; "" means
// SIGKILL) to c.
func Kill(c ContainerTarget, signal string) *KillFault {
	if signal == "" {
		signal = "SIGKILL"
	}
	return &KillFault{c: c, signal: signal}
}

// KeepDown makes Revert leave the container as it is.
func (f *KillFault) KeepDown() *KillFault { f.keepDown = true; return f }

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
	if err := f.c.Kill(ctx, f.signal); err != nil {
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	f.killed = true
	return nil
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
