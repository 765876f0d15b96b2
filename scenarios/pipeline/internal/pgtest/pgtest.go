// Package pgtest gives the pipeline's integration tests PostgreSQL databases
// and a TCP proxy that can cut a database off.
//
// The server is the one named by FIREDRILL_TEST_PG (an admin DSN, e.g.
// postgres://postgres@127.0.0.1:5432/postgres) or else a firedrill/postgres
// container (FIREDRILL_POSTGRES_IMAGE overrides the image) started once per
// test package by Main and removed when the package's tests end. Under
// -short no server is started and DBs skips the test.
package pgtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/firedrill/firedrill/scenarios"
)

var (
	admin    string // admin DSN of the server
	startErr error
)

// RunID is this test process's run id (label firedrill.run): the runtime's.
var RunID = scenarios.RunID()

// Main starts the server if needed, runs m and removes what it started. Use
// it from TestMain: os.Exit(pgtest.Main(m, "collector")).
func Main(m *testing.M, pkg string) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() {
		return m.Run()
	}
	if dsn := os.Getenv("FIREDRILL_TEST_PG"); dsn != "" {
		admin = dsn
		return m.Run()
	}
	scenarios.SetTestcontainersEnv()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	img := scenarios.Image(scenarios.ImagePostgres)
	c, err := testcontainers.Run(ctx, img,
		testcontainers.WithExposedPorts("5432/tcp"),
		testcontainers.WithCmdArgs("-c", "max_connections=300"),
		testcontainers.WithLabels(map[string]string{
			scenarios.LabelFiredrill: "true", scenarios.LabelRun: RunID,
			scenarios.LabelTest: "pipeline/internal/" + pkg, scenarios.LabelSystem: "pipeline-test",
		}),
		testcontainers.WithWaitStrategyAndDeadline(90*time.Second, wait.ForLog("database system is ready to accept connections")),
	)
	defer func() { // registered before the error check: a half-started container is removed too
		if c != nil {
			tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer tcancel()
			_ = c.Terminate(tctx)
		}
	}()
	if err == nil {
		var ep string
		if ep, err = c.PortEndpoint(ctx, "5432/tcp", ""); err == nil {
			admin = "postgres://postgres@" + ep + "/postgres?sslmode=disable"
			err = waitPing(ctx, admin)
		}
	}
	cancel()
	if err != nil {
		startErr = fmt.Errorf("start %s: %w", img, err)
	}
	return m.Run()
}

func waitPing(ctx context.Context, dsn string) error {
	for {
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			return c.Close(ctx)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var dbSeq struct {
	sync.Mutex
	n int
}

// DBs creates one fresh database per name and returns their DSNs; they are
// dropped when t ends. Skips under -short; fails when no server could start.
func DBs(tb testing.TB, names ...string) []string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: needs PostgreSQL (not under -short)")
	}
	if admin == "" {
		if startErr == nil {
			startErr = errors.New("pgtest.Main was not called from TestMain")
		}
		tb.Fatalf("no PostgreSQL for integration tests: %v (set FIREDRILL_TEST_PG, or build the image with make images)", startErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	out := make([]string, len(names))
	for i, n := range names {
		dbSeq.Lock()
		dbSeq.n++
		db := fmt.Sprintf("t_%s_%s_%d", strings.ReplaceAll(RunID, "-", "_"), n, dbSeq.n)
		dbSeq.Unlock()
		tb.Cleanup(func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer ccancel()
			c, err := pgx.Connect(cctx, admin)
			if err != nil {
				return
			}
			defer c.Close(cctx)
			_, _ = c.Exec(cctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, db))
		})
		if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %q`, db)); err != nil {
			tb.Fatalf("create database %s: %v", db, err)
		}
		u, err := url.Parse(admin)
		if err != nil {
			tb.Fatalf("parse admin dsn: %v", err)
		}
		u.Path = "/" + db
		out[i] = u.String()
	}
	return out
}

// Via returns dsn with its host:port replaced by addr.
func Via(tb testing.TB, dsn, addr string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse dsn: %v", err)
	}
	u.Host = addr
	return u.String()
}

// HostPort returns the host:port of dsn.
func HostPort(tb testing.TB, dsn string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse dsn: %v", err)
	}
	return u.Host
}

// Proxy is a TCP proxy on 127.0.0.1 that can be cut: while cut, open
// connections are closed and new ones are closed on accept.
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu    sync.Mutex
	down  bool
	hung  bool
	conns map[net.Conn]struct{}
}

// NewProxy starts a proxy to target; it is closed when t ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	tb.Cleanup(func() { _ = ln.Close(); p.Cut() })
	go p.serve()
	return p
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		if !down {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		if down {
			_ = c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(c net.Conn) {
	u, err := (&net.Dialer{Timeout: 3 * time.Second}).DialContext(context.Background(), "tcp", p.target)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		_ = u.Close()
		p.drop(c)
		return
	}
	p.conns[u] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.copy(u, c); done <- struct{}{} }()
	go func() { p.copy(c, u); done <- struct{}{} }()
	<-done
	p.drop(c)
	p.drop(u)
}

// copy forwards src to dst, holding data back while the proxy hangs.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for n > 0 && p.isHung() {
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) isHung() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hung
}

// Hang keeps connections open but stops forwarding data (a blackhole) until
// Restore.
func (p *Proxy) Hang() {
	p.mu.Lock()
	p.hung = true
	p.mu.Unlock()
}

func (p *Proxy) drop(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Cut closes every connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.down = true
	cs := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range cs {
		_ = c.Close()
	}
}

// Restore lets connections through again (after Cut or Hang).
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.down, p.hung = false, false
	p.mu.Unlock()
}
