package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Target describes an HTTP request made by the HTTP workload.
type Target struct {
	Method string // default GET
	URL    string
	Header http.Header
	// Body returns the body of request seq; nil means no body.
	Body func(seq uint64) []byte
	// Ack extracts the acknowledged id from a 2xx response; nil means none.
	Ack func(seq uint64, resp *http.Response, body []byte) (string, error)
	// Client defaults to NewClient(0).
	Client *http.Client
}

// maxBody bounds how much of a response is read when Ack needs it.
const maxBody = 1 << 20

// DefaultMaxConns is NewClient's default connection cap per host.
const DefaultMaxConns = 256

// NewClient returns an http.Client tuned for load generation: keep-alives
// on, at most maxConns connections per host (default DefaultMaxConns), all
// of which may stay idle, no compression, short dial and TLS timeouts.
// Request deadlines come from the workload's per-request context.
//
// The cap matters after an outage: every request that times out closes its
// connection, and without a cap the client would dial one new connection
// per request until the target drowns in handshakes. With the cap, excess
// requests wait for a connection; their wait counts in their latency
// (measured from the intended time), and the schedule does not slow down.
// Size it to rate × worst latency when that exceeds the default.
func NewClient(maxConns int) *http.Client {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          maxConns,
		MaxIdleConnsPerHost:   maxConns,
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// HTTPOp returns an Op that sends t and succeeds on a 2xx status.
func HTTPOp(t Target) Op {
	c := t.Client
	if c == nil {
		c = NewClient(0)
	}
	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	return func(ctx context.Context, seq uint64) (string, error) {
		var body io.Reader
		if t.Body != nil {
			if b := t.Body(seq); b != nil {
				body = bytes.NewReader(b)
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, t.URL, body)
		if err != nil {
			return "", fmt.Errorf("build request: %w", err)
		}
		if len(t.Header) > 0 {
			for k, vs := range t.Header {
				req.Header[k] = vs
			}
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var data []byte
		if t.Ack != nil || resp.StatusCode/100 != 2 {
			data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
			if err != nil {
				return "", fmt.Errorf("read response: %w", err)
			}
		} else if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return "", fmt.Errorf("read response: %w", err)
		}
		if resp.StatusCode/100 != 2 {
			return "", fmt.Errorf("status %d: %s", resp.StatusCode, truncate(data, 200))
		}
		if t.Ack == nil {
			return "", nil
		}
		return t.Ack(seq, resp, data)
	}
}

// HTTP returns a workload sending t at the pace of p. When t.Client is nil
// the workload makes its own client and closes its idle connections when a
// Run ends, so drills run one after another do not pile up connections.
func HTTP(p Pacer, t Target, opts ...Option) Workload {
	var owned *http.Client
	if t.Client == nil {
		owned = NewClient(0)
		t.Client = owned
	}
	w := New(p, HTTPOp(t), opts...)
	if owned != nil {
		w.release = owned.CloseIdleConnections
	}
	return w
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
