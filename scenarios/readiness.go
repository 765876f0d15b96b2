package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Readiness tells whether a container is ready. The runtime calls Check
// repeatedly (every [ReadyPollInterval]) until it returns nil, the ready
// timeout passes, or the container exits; Check should make one attempt and
// return quickly.
type Readiness interface {
	Check(ctx context.Context, c *Container) error
}

var (
	_ Readiness = ReadyFunc(nil)
	_ Readiness = readyHTTP{}
	_ Readiness = readyTCP{}
	_ Readiness = readyLog{}
	_ Readiness = readyExec{}
	_ Readiness = readyAll{}
	_ Readiness = readyHealthy{}
)

// ReadyPollInterval is the pause between two readiness attempts.
const ReadyPollInterval = 25 * time.Millisecond

// ReadyFunc adapts a function to [Readiness].
type ReadyFunc func(ctx context.Context, c *Container) error

// Check calls f.
func (f ReadyFunc) Check(ctx context.Context, c *Container) error { return f(ctx, c) }

type readyHTTP struct{ port, path string }

// ReadyHTTP is ready when GET http://<published port><path> answers 2xx.
// port must be in the container's Ports.
func ReadyHTTP(port, path string) Readiness { return readyHTTP{port, path} }

func (r readyHTTP) readinessPorts() []string { return []string{r.port} }

func (r readyHTTP) Check(ctx context.Context, c *Container) error {
	addr, err := c.Endpoint(ctx, r.port)
	if err != nil {
		return err
	}
	path := r.path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := readyClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: status %s", path, resp.Status)
	}
	return nil
}

var readyClient = &http.Client{
	Timeout:   time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

type readyTCP struct{ port string }

// ReadyTCP is ready when the published port accepts a connection that the
// container's process holds open. Docker's userland proxy accepts a
// connection even when nothing listens inside and then closes it; such a
// connection does not count.
func ReadyTCP(port string) Readiness { return readyTCP{port} }

func (r readyTCP) readinessPorts() []string { return []string{r.port} }

func (r readyTCP) Check(ctx context.Context, c *Container) error {
	addr, err := c.Endpoint(ctx, r.port)
	if err != nil {
		return err
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var b [1]byte
	_, err = conn.Read(b[:])
	switch {
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		return nil // the server talks first, or holds the connection open
	default:
		return fmt.Errorf("%s accepted and closed the connection: nothing listens on %s yet", addr, r.port)
	}
}

type readyLog struct{ substr string }

// ReadyLog is ready when the container's output (stdout or stderr) contains
// substr.
func ReadyLog(substr string) Readiness { return readyLog{substr} }

func (r readyLog) Check(ctx context.Context, c *Container) error {
	logs, err := c.Logs(ctx, 0)
	if err != nil {
		return err
	}
	if !strings.Contains(logs, r.substr) {
		return fmt.Errorf("log does not contain %q yet", r.substr)
	}
	return nil
}

type readyExec struct{ cmd []string }

// ReadyExec is ready when cmd, run inside the container, exits 0
// (e.g. pg_isready).
func ReadyExec(cmd ...string) Readiness { return readyExec{cmd} }

func (r readyExec) Check(ctx context.Context, c *Container) error {
	code, out, err := c.Exec(ctx, r.cmd)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%s exited %d: %s", strings.Join(r.cmd, " "), code, strings.TrimSpace(out))
	}
	return nil
}

type readyHealthy struct{}

// ReadyHealthy is ready when Docker reports the container's health as
// "healthy": the container's Healthcheck, or its image's HEALTHCHECK when
// the spec declares none (Start fails when neither has one). It fails at
// once, with the healthcheck's last output, when Docker reports
// "unhealthy" (the error matches [ErrUnhealthy]).
func ReadyHealthy() Readiness { return readyHealthy{} }

func (readyHealthy) needsHealthcheck() bool { return true }

func (readyHealthy) Check(ctx context.Context, c *Container) error {
	res, err := c.docker.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect health of %s: %w", c.Name, err)
	}
	var h *container.Health
	if st := res.Container.State; st != nil {
		h = st.Health
	}
	switch {
	case h == nil:
		return fmt.Errorf("%s has no healthcheck: declare ContainerSpec.Healthcheck", c.Name)
	case h.Status == container.Healthy:
		return nil
	case h.Status == container.Unhealthy:
		return &unhealthyError{status: h}
	default:
		return fmt.Errorf("health is %s", h.Status)
	}
}

// unhealthyError is Docker's verdict "unhealthy", with the last check.
type unhealthyError struct{ status *container.Health }

func (e *unhealthyError) Error() string {
	msg := fmt.Sprintf("docker reports it unhealthy after %d failed checks", e.status.FailingStreak)
	if n := len(e.status.Log); n > 0 {
		last := e.status.Log[n-1]
		msg += fmt.Sprintf("; last check exited %d with output:\n%s", last.ExitCode, indent(last.Output))
	}
	return msg
}

// Is makes errors.Is(err, ErrUnhealthy) true.
func (e *unhealthyError) Is(target error) bool { return target == ErrUnhealthy }

// needsHealthcheck reports whether r waits for Docker's health status.
func needsHealthcheck(r Readiness) bool {
	n, ok := r.(interface{ needsHealthcheck() bool })
	return ok && n.needsHealthcheck()
}

type readyAll []Readiness

func (rs readyAll) needsHealthcheck() bool { return slices.ContainsFunc(rs, needsHealthcheck) }

// ReadyAll is ready when every one of rs is.
func ReadyAll(rs ...Readiness) Readiness { return readyAll(rs) }

func (rs readyAll) readinessPorts() []string {
	var ports []string
	for _, r := range rs {
		if p, ok := r.(interface{ readinessPorts() []string }); ok {
			ports = append(ports, p.readinessPorts()...)
		}
	}
	return ports
}

func (rs readyAll) Check(ctx context.Context, c *Container) error {
	for _, r := range rs {
		if err := r.Check(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// HTTPReadiness reports the port and path of a readiness made by
// [ReadyHTTP] (for translating a System to another runtime, such as
// scenarios/kube's readiness probes).
func HTTPReadiness(r Readiness) (port, path string, ok bool) {
	h, ok := r.(readyHTTP)
	return h.port, h.path, ok
}
