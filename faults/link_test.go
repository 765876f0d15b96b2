package faults_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

// fakeToxiproxy is the part of toxiproxy's HTTP API the faults use.
type fakeToxiproxy struct {
	mu      sync.Mutex
	enabled bool
	toxics  map[string]toxiproxy.Toxic
}

func (f *fakeToxiproxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	proxy := func() {
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "p", "listen": "127.0.0.1:1", "upstream": "x:1", "enabled": f.enabled})
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/proxies/p":
		proxy()
	case r.Method == "POST" && r.URL.Path == "/proxies/p":
		var body struct{ Enabled bool }
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.enabled = body.Enabled
		proxy()
	case r.Method == "POST" && r.URL.Path == "/proxies/p/toxics":
		var tx toxiproxy.Toxic
		_ = json.NewDecoder(r.Body).Decode(&tx)
		if _, dup := f.toxics[tx.Name]; dup {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":"toxic already exists","status":409}`)
			return
		}
		f.toxics[tx.Name] = tx
		_ = json.NewEncoder(w).Encode(tx)
	case r.Method == "DELETE" && strings.HasPrefix(r.URL.Path, "/proxies/p/toxics/"):
		name := strings.TrimPrefix(r.URL.Path, "/proxies/p/toxics/")
		if _, ok := f.toxics[name]; !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"toxic not found","status":404}`)
			return
		}
		delete(f.toxics, name)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// ProxyLink drives a real toxiproxy client: toxics are added and removed,
// the proxy disabled and enabled, and a toxic removed behind our back is
// "not found", which revert tolerates.
func TestProxyLink(t *testing.T) {
	fake := &fakeToxiproxy{enabled: true, toxics: map[string]toxiproxy.Toxic{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	p, err := toxiproxy.NewClient(srv.URL).Proxy("p")
	require.NoError(t, err)
	link := faults.ProxyLink(p)

	lat := faults.Latency(link, 100*time.Millisecond).Both()
	require.NoError(t, lat.Inject(ctx))
	assert.Len(t, fake.toxics, 2)
	for name := range fake.toxics { // someone removes one of ours
		delete(fake.toxics, name)
		break
	}
	require.NoError(t, lat.Revert(ctx))
	assert.Empty(t, fake.toxics)

	err = link.RemoveToxic(ctx, "nope")
	assert.True(t, faults.IsNotFound(err), "%v", err)

	down := faults.Down(link)
	require.NoError(t, down.Inject(ctx))
	assert.False(t, fake.enabled)
	require.NoError(t, down.Revert(ctx))
	assert.True(t, fake.enabled)
}
