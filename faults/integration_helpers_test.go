package faults_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// TestMain runs the tests with the testcontainers environment the runtime
// sets (scenarios.SetTestcontainersEnv: Ryuk off, mapped ports on
// 127.0.0.1), since some tests use testcontainers-go before any system.
func TestMain(m *testing.M) {
	scenarios.SetTestcontainersEnv()
	os.Exit(m.Run())
}

// faulteeImage builds (once per content) the test target image from
// ./internal/faultee into a FROM scratch image and returns its reference.
var faulteeImage = sync.OnceValues(func() (string, error) {
	src, err := os.ReadFile(filepath.Join("internal", "faultee", "main.go"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(src)
	tag := "firedrill/faultee:" + hex.EncodeToString(sum[:8])
	if exec.CommandContext(context.Background(), "docker", "image", "inspect", tag).Run() == nil {
		return tag, nil
	}
	dir, err := os.MkdirTemp("", "faultee")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "faultee")
	build := exec.CommandContext(context.Background(), "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./internal/faultee")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build faultee: %w\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 01777},
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 01777},
		{Name: "faultee", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			return "", err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(data); err != nil {
				return "", err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	imp := exec.CommandContext(context.Background(), "docker", "import",
		"--change", `ENTRYPOINT ["/faultee"]`,
		"--change", "EXPOSE 8080/tcp",
		"--change", "LABEL org.firedrill.image=faultee",
		"-", tag)
	imp.Stdin = &buf
	if out, err := imp.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker import faultee: %w\n%s", err, out)
	}
	return tag, nil
})

// target is a started one-container system: "app" (faultee) with a 4 MiB
// tmpfs at /data, reached from the test through the link host->app.
type target struct {
	r    *scenarios.Running
	app  *scenarios.Container
	link *scenarios.Link
}

func startTarget(t *testing.T) *target {
	t.Helper()
	scenarios.RequireDocker(t)
	img, err := faulteeImage()
	require.NoError(t, err)
	r := scenarios.Start(t, scenarios.System{
		Name:       "faults",
		Containers: []scenarios.ContainerSpec{faulteeSpec("app", img)},
		Links:      []scenarios.LinkSpec{{From: scenarios.Host, To: "app", Port: "8080/tcp"}},
	})
	link, err := faults.LinkBetween(r, scenarios.Host, "app")
	require.NoError(t, err)
	return &target{r: r, app: r.MustContainer("app"), link: link}
}

func faulteeSpec(name, img string) scenarios.ContainerSpec {
	return scenarios.ContainerSpec{
		Name:  name,
		Image: img,
		Ports: []string{"8080/tcp"},
		Ready: scenarios.ReadyHTTP("8080/tcp", "/healthz"),
		Tmpfs: map[string]string{"/data": "size=4m"},
	}
}

// pair is two containers, client and app, with the link client->app: the
// client dials through toxiproxy inside the system network, where a TCP
// reset reaches it as such (Docker's port proxy turns it into an EOF).
type pair struct {
	r      *scenarios.Running
	client *scenarios.Container
	link   *scenarios.Link
}

func startPair(t *testing.T) *pair {
	t.Helper()
	scenarios.RequireDocker(t)
	img, err := faulteeImage()
	require.NoError(t, err)
	r := scenarios.Start(t, scenarios.System{
		Name:       "faults-pair",
		Containers: []scenarios.ContainerSpec{faulteeSpec("client", img), faulteeSpec("app", img)},
		Links:      []scenarios.LinkSpec{{From: "client", To: "app", Port: "8080/tcp"}},
	})
	link, err := faults.LinkBetween(r, "client", "app")
	require.NoError(t, err)
	return &pair{r: r, client: r.MustContainer("client"), link: link}
}

// fetch asks the client to GET / from the app through the link; it returns
// the client's answer: "status 200" or the client's error.
func (p *pair) fetch(t *testing.T) (int, string) {
	t.Helper()
	addr, err := p.client.Endpoint(context.Background(), "8080/tcp")
	require.NoError(t, err)
	code, body, err := request(addr, "GET", "/fetch?url=http://"+p.link.Listen+"/", 5*time.Second)
	require.NoError(t, err)
	return code, body
}

// through does one HTTP request through the link on a fresh connection.
func (tg *target) through(method, path string, timeout time.Duration) (int, string, error) {
	return request(tg.link.HostAddr, method, path, timeout)
}

// direct does one HTTP request to the app's published port, bypassing the
// link.
func (tg *target) direct(t *testing.T, method, path string, timeout time.Duration) (int, string, error) {
	t.Helper()
	addr, err := tg.app.Endpoint(context.Background(), "8080/tcp")
	if err != nil {
		return 0, "", err
	}
	return request(addr, method, path, timeout)
}

func request(addr, method, path string, timeout time.Duration) (int, string, error) {
	c := &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: timeout}).DialContext},
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://"+addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// timed is how long f takes.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// inspect returns the container's HostConfig limits and state from Docker.
func (tg *target) limits(t *testing.T) (memory, nanoCPUs int64) {
	t.Helper()
	res, err := tg.r.Docker().ContainerInspect(context.Background(), tg.app.ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	return res.Container.HostConfig.Memory, res.Container.HostConfig.NanoCPUs
}
