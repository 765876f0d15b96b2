//go:build unix

package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotLocal is returned by SignalProcess when this process cannot signal
// the container's main process itself (a remote daemon, another PID
// namespace, no permission): use Kill, through the Docker API.
var ErrNotLocal = errors.New("container process not signalable from here")

// SignalProcess sends signal to the container's main process with kill(2),
// as a crash would be caused from inside the machine, and returns the
// bracket of that system call: the signal is pending when it returns (a
// SIGKILLed process runs no more user code). It needs the daemon on this
// machine, the container's process visible in this PID namespace and the
// permission to signal it; otherwise it returns ErrNotLocal and sends
// nothing. The Docker daemon sees the process exit as it would after a
// docker kill (exit code 128+signal).
func (c *Container) SignalProcess(ctx context.Context, signal string) (sent, acked time.Time, err error) {
	sig, err := parseSignal(signal)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	st, err := c.State(ctx)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if !st.Running || st.Pid <= 0 {
		return time.Time{}, time.Time{}, fmt.Errorf("signal %s: %w: not running", c.Name, ErrNotLocal)
	}
	// The pid must be this container's: its cgroup names the container.
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cgroup")
	if err != nil || !strings.Contains(string(cg), c.ID) {
		return time.Time{}, time.Time{}, fmt.Errorf("signal %s: %w: pid %d is not visible as this container's", c.Name, ErrNotLocal, st.Pid)
	}
	sent = time.Now()
	err = syscall.Kill(st.Pid, sig)
	acked = time.Now()
	switch {
	case errors.Is(err, syscall.EPERM):
		return time.Time{}, time.Time{}, fmt.Errorf("signal %s: %w: %w", c.Name, ErrNotLocal, err)
	case err != nil:
		return time.Time{}, time.Time{}, fmt.Errorf("signal %s (pid %d) with %s: %w", c.Name, st.Pid, signal, err)
	}
	c.forget()
	return sent, acked, nil
}

// parseSignal reads "SIGKILL", "KILL", "kill" or "9".
func parseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return syscall.SIGKILL, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
