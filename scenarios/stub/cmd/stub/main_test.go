package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newHandler())
	t.Cleanup(srv.Close)

	do := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}

	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, "ok"},
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/ids", 200, ""},
		{"POST", "/write?id=a", 200, "a"},
		{"POST", "/write?id=b", 200, "b"},
		{"POST", "/write?id=a", 200, "a"}, // idempotent
		{"GET", "/ids", 200, "a\nb\n"},
		{"POST", "/write", 400, "missing id\n"},
		{"GET", "/write?id=c", 405, "Method Not Allowed\n"},
		{"GET", "/nope", 404, "404 page not found\n"},
	}
	for _, tt := range tests {
		code, body := do(tt.method, tt.path)
		assert.Equal(t, tt.code, code, "%s %s", tt.method, tt.path)
		assert.Equal(t, tt.body, body, "%s %s", tt.method, tt.path)
	}
}

func TestServeShutsDownWhenContextEnds(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+ln.Addr().String()+"/healthz", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return within 5s after its context ended")
	}
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
	}
	assert.Error(t, err, "the listener is closed after shutdown")
}
