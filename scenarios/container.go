package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Container is the handle of one started container. Its methods act on the
// container through the Docker API; they are safe for concurrent use.
type Container struct {
	// Name is the ContainerSpec name and the network alias.
	Name string
	// ID is the Docker container id.
	ID string
	// Spec is the declaration the container was started from, with
	// ${link:NAME} references expanded.
	Spec ContainerSpec

	docker       containerAPI
	networkID    string
	readyTimeout time.Duration

	// Set for attached containers ([Attach]): the network's name, for
	// messages; the endpoint settings the container had on it, which
	// Connect restores (aliases, static address); and, when the container
	// cannot be partitioned (several networks, none named), why.
	networkName string
	netSettings *network.EndpointSettings
	netErr      error

	mu        sync.Mutex
	endpoints map[string]string // published port -> host address, cleared by lifecycle calls
}

// State is a container's state as Docker reports it.
type State struct {
	Running   bool
	Paused    bool
	OOMKilled bool
	ExitCode  int
	// Status is one of created, running, paused, restarting, removing,
	// exited, dead.
	Status string
	// StartedAt is when the process last started and FinishedAt when it last
	// exited, by the daemon's clock (the machine's), to the nanosecond; zero
	// when unknown (never started, never exited). FinishedAt is the time the
	// runtime reaped the process: at or just after it died.
	StartedAt, FinishedAt time.Time
	// Pid is the container's main process as the host sees it (0 when
	// not running).
	Pid int
}

// Event is one record of the Docker daemon about a container.
type Event struct {
	// Action is e.g. "kill", "die", "pause", "start", "stop", "restart".
	Action string
	// Time is when the daemon recorded it, to the nanosecond, by its clock.
	Time time.Time
	// Attributes are the event's attributes (e.g. "signal", "exitCode").
	Attributes map[string]string
}

// Resources are limits for [Container.Update]; a zero field leaves that
// limit unchanged. MemorySwap is memory+swap; set it equal to Memory to
// forbid swap, -1 for unlimited swap.
type Resources struct {
	NanoCPUs   int64
	Memory     int64
	MemorySwap int64
}

// String returns the container's name.
func (c *Container) String() string { return c.Name }

func (c *Container) forget() {
	c.mu.Lock()
	c.endpoints = nil
	c.mu.Unlock()
}

// Endpoint returns the host address ("127.0.0.1:49153") on which port
// (e.g. "8080/tcp", one of the spec's Ports) is published.
func (c *Container) Endpoint(ctx context.Context, port string) (string, error) {
	norm, err := normalizePort(port)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	addr, ok := c.endpoints[norm]
	c.mu.Unlock()
	if ok {
		return addr, nil
	}
	res, err := c.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("endpoint %s of %s: %w", norm, c.Name, err)
	}
	p, err := network.ParsePort(norm)
	if err != nil {
		return "", err
	}
	var ports network.PortMap
	if ns := res.Container.NetworkSettings; ns != nil {
		ports = ns.Ports
	}
	for _, b := range ports[p] {
		if b.HostPort == "" || b.HostPort == "0" {
			continue
		}
		addr = "127.0.0.1:" + b.HostPort
		c.mu.Lock()
		if c.endpoints == nil {
			c.endpoints = map[string]string{}
		}
		c.endpoints[norm] = addr
		c.mu.Unlock()
		return addr, nil
	}
	if !hasPort(c.Spec.Ports, norm) {
		return "", fmt.Errorf("endpoint of %s: port %s is not published: add it to ContainerSpec.Ports", c.Name, norm)
	}
	return "", fmt.Errorf("endpoint of %s: port %s has no host binding (is the container running?)", c.Name, norm)
}

// State inspects the container.
func (c *Container) State(ctx context.Context) (State, error) {
	res, err := c.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return State{}, fmt.Errorf("inspect %s: %w", c.Name, err)
	}
	s := res.Container.State
	if s == nil {
		return State{}, fmt.Errorf("inspect %s: no state", c.Name)
	}
	return State{
		Running:    s.Running,
		Paused:     s.Paused,
		OOMKilled:  s.OOMKilled,
		ExitCode:   s.ExitCode,
		Status:     string(s.Status),
		StartedAt:  parseDockerTime(s.StartedAt),
		FinishedAt: parseDockerTime(s.FinishedAt),
		Pid:        s.Pid,
	}, nil
}

// parseDockerTime parses a time of container inspect (RFC 3339 with
// nanoseconds); Docker's "0001-01-01T00:00:00Z" and garbage are zero.
func parseDockerTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// Events returns the daemon's records about this container between since
// and until, oldest first. The daemon keeps its last 256 events (of every
// container), so ask soon after the window. It returns once the daemon has
// sent the window: when until is in the future, at until.
func (c *Container) Events(ctx context.Context, since, until time.Time) ([]Event, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := c.docker.Events(ctx, client.EventsListOptions{
		Since:   unixNano(since),
		Until:   unixNano(until),
		Filters: client.Filters{}.Add("type", "container").Add("container", c.ID),
	})
	var out []Event
	for {
		select {
		case m, ok := <-res.Messages:
			if !ok {
				return out, nil
			}
			if m.Actor.ID != "" && m.Actor.ID != c.ID {
				continue
			}
			out = append(out, Event{Action: string(m.Action), Time: time.Unix(0, m.TimeNano), Attributes: m.Actor.Attributes})
		case err, ok := <-res.Err:
			if !ok || errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("events of %s: %w", c.Name, err)
		case <-ctx.Done():
			return out, fmt.Errorf("events of %s: %w", c.Name, ctx.Err())
		}
	}
}

// unixNano formats t as the events API's "seconds.nanoseconds".
func unixNano(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// Logs returns the last tail lines of the container's stdout and stderr,
// interleaved; tail <= 0 returns everything.
func (c *Container) Logs(ctx context.Context, tail int) (string, error) {
	t := "all"
	if tail > 0 {
		t = strconv.Itoa(tail)
	}
	rc, err := c.docker.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: t})
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", c.Name, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return buf.String(), fmt.Errorf("logs of %s: %w", c.Name, err)
	}
	return buf.String(), nil
}

// Exec runs cmd in the container and returns its exit code and combined
// output. err reports a failure to run it, not a non-zero exit.
func (c *Container) Exec(ctx context.Context, cmd []string) (exitCode int, output string, err error) {
	if len(cmd) == 0 {
		return -1, "", fmt.Errorf("exec in %s: empty command", c.Name)
	}
	created, err := c.docker.ExecCreate(ctx, c.ID, client.ExecCreateOptions{AttachStdout: true, AttachStderr: true, Cmd: cmd})
	if err != nil {
		return -1, "", fmt.Errorf("exec %q in %s: %w", cmd[0], c.Name, err)
	}
	att, err := c.docker.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, "", fmt.Errorf("exec %q in %s: attach: %w", cmd[0], c.Name, err)
	}
	defer att.Close()
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, att.Reader); err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
		return -1, buf.String(), fmt.Errorf("exec %q in %s: read: %w", cmd[0], c.Name, err)
	}
	if ctx.Err() != nil {
		return -1, buf.String(), fmt.Errorf("exec %q in %s: %w", cmd[0], c.Name, ctx.Err())
	}
	for {
		in, err := c.docker.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return -1, buf.String(), fmt.Errorf("exec %q in %s: inspect: %w", cmd[0], c.Name, err)
		}
		if !in.Running {
			return in.ExitCode, buf.String(), nil
		}
		select {
		case <-ctx.Done():
			return -1, buf.String(), fmt.Errorf("exec %q in %s: %w", cmd[0], c.Name, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Kill sends signal (e.g. "SIGKILL", "SIGTERM"; "" means SIGKILL) to the
// container's main process.
func (c *Container) Kill(ctx context.Context, signal string) error {
	c.forget()
	if _, err := c.docker.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: signal}); err != nil {
		return fmt.Errorf("kill %s with %s: %w", c.Name, orDefault(signal, "SIGKILL"), err)
	}
	return nil
}

// Stop sends SIGTERM and, after timeout, SIGKILL; it returns once the
// container has stopped.
func (c *Container) Stop(ctx context.Context, timeout time.Duration) error {
	c.forget()
	secs := seconds(timeout)
	if _, err := c.docker.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop %s: %w", c.Name, err)
	}
	return nil
}

// Start starts a stopped or killed container. It does not wait for
// readiness: call [Container.WaitReady].
func (c *Container) Start(ctx context.Context) error {
	c.forget()
	if _, err := c.docker.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	return nil
}

// Restart stops the container (SIGTERM, SIGKILL after timeout) and starts
// it again. It does not wait for readiness: call [Container.WaitReady].
func (c *Container) Restart(ctx context.Context, timeout time.Duration) error {
	c.forget()
	secs := seconds(timeout)
	if _, err := c.docker.ContainerRestart(ctx, c.ID, client.ContainerRestartOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("restart %s: %w", c.Name, err)
	}
	return nil
}

// Pause freezes every process of the container (cgroup freezer).
func (c *Container) Pause(ctx context.Context) error {
	if _, err := c.docker.ContainerPause(ctx, c.ID, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", c.Name, err)
	}
	return nil
}

// Unpause thaws a paused container.
func (c *Container) Unpause(ctx context.Context) error {
	if _, err := c.docker.ContainerUnpause(ctx, c.ID, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause %s: %w", c.Name, err)
	}
	return nil
}

// Disconnect detaches the container from the system network: it can reach
// no other container of the system, and none can reach it. Published ports
// stay reachable from the host only while the container has a network. An
// attached container ([Attach]) is detached from the network named for it
// in [Environment.Networks], or from its only network.
func (c *Container) Disconnect(ctx context.Context) error {
	if c.netErr != nil {
		return fmt.Errorf("disconnect %s: %w", c.Name, c.netErr)
	}
	c.forget()
	if _, err := c.docker.NetworkDisconnect(ctx, c.networkID, client.NetworkDisconnectOptions{Container: c.ID, Force: true}); err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", c.Name, c.networkLabel(), err)
	}
	return nil
}

// Connect attaches the container to the system network again, with its
// alias (its Name). An attached container gets back the aliases and the
// static address (if it had one) it had when it was attached.
func (c *Container) Connect(ctx context.Context) error {
	if c.netErr != nil {
		return fmt.Errorf("connect %s: %w", c.Name, c.netErr)
	}
	c.forget()
	ep := &network.EndpointSettings{Aliases: []string{c.Name}}
	if c.netSettings != nil {
		ep = c.netSettings.Copy()
	}
	opts := client.NetworkConnectOptions{Container: c.ID, EndpointConfig: ep}
	if _, err := c.docker.NetworkConnect(ctx, c.networkID, opts); err != nil {
		return fmt.Errorf("connect %s to %s: %w", c.Name, c.networkLabel(), err)
	}
	return nil
}

// networkLabel names the network a partition acts on, for messages.
func (c *Container) networkLabel() string {
	if c.networkName != "" {
		return "network " + c.networkName
	}
	return "the system network"
}

// Update changes the container's CPU and memory limits while it runs.
func (c *Container) Update(ctx context.Context, r Resources) error {
	res := &container.Resources{NanoCPUs: r.NanoCPUs, Memory: r.Memory, MemorySwap: r.MemorySwap}
	if _, err := c.docker.ContainerUpdate(ctx, c.ID, client.ContainerUpdateOptions{Resources: res}); err != nil {
		return fmt.Errorf("update resources of %s: %w", c.Name, err)
	}
	return nil
}

// Resources reads the container's current CPU and memory limits (zero
// means unlimited).
func (c *Container) Resources(ctx context.Context) (Resources, error) {
	res, err := c.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return Resources{}, fmt.Errorf("inspect resources of %s: %w", c.Name, err)
	}
	hc := res.Container.HostConfig
	if hc == nil {
		return Resources{}, nil
	}
	return Resources{NanoCPUs: hc.NanoCPUs, Memory: hc.Memory, MemorySwap: hc.MemorySwap}, nil
}

// WaitReady polls the container's readiness (see [ContainerSpec.Ready])
// until it holds, the ready timeout passes or ctx is done. It fails at once,
// with the last log lines, when the container is not running (exited, dead,
// removed), and with the healthcheck's output when Docker reports it
// unhealthy ([ReadyHealthy]). Call it after Start or Restart.
func (c *Container) WaitReady(ctx context.Context) error {
	timeout := c.readyTimeout
	if c.Spec.ReadyTimeout > 0 {
		timeout = c.Spec.ReadyTimeout
	}
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(ReadyPollInterval)
	defer tick.Stop()
	var last error
	for {
		st, err := c.State(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			return fmt.Errorf("wait for %s: %w", c.Name, err)
		case err == nil && st.Status != "running" && st.Status != "paused" && st.Status != "restarting" && st.Status != "created":
			return c.exitedError(st)
		case err == nil && st.Status == "running":
			if c.Spec.Ready == nil {
				return nil
			}
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			last = c.Spec.Ready.Check(actx, c)
			acancel()
			if last == nil {
				return nil
			}
			if errors.Is(last, ErrUnhealthy) {
				return fmt.Errorf("%s (%s): %w: %w", c.Name, c.Spec.Image, ErrNotReady, last)
			}
		case err == nil:
			last = fmt.Errorf("container is %s", st.Status)
		}
		select {
		case <-ctx.Done():
			return c.notReadyError(timeout, last)
		case <-tick.C:
		}
	}
}

// LogTail is how many log lines readiness errors carry: enough to say why,
// short enough to read in a failure message. A failed test under [Start]
// logs more of each container.
const LogTail = 3

func (c *Container) exitedError(st State) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	logs, _ := c.Logs(ctx, LogTail)
	oom := ""
	if st.OOMKilled {
		oom = ", OOM-killed"
	}
	return fmt.Errorf("%s (%s) %w with code %d%s before it was ready; last %d log lines:\n%s",
		c.Name, c.Spec.Image, ErrContainerExited, st.ExitCode, oom, LogTail, indent(logs))
}

func (c *Container) notReadyError(timeout time.Duration, last error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	logs, _ := c.Logs(ctx, LogTail)
	if last == nil {
		// No check finished (ctx was done from the start): keep the
		// message it always had, "last check: <nil>".
		last = errors.New("<nil>")
	}
	return fmt.Errorf("%s (%s): %w after %v (last check: %w); last %d log lines:\n%s",
		c.Name, c.Spec.Image, ErrNotReady, timeout, last, LogTail, indent(logs))
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
