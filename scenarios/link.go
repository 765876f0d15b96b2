package scenarios

import (
	"context"
	"fmt"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// Link is the handle of one link: a toxiproxy proxy between From and To.
type Link struct {
	// Name is the link's name (LinkSpec.Name or From->To).
	Name string
	// From is the client container's name, or [Host]; empty for the link
	// of an attached proxy ([Attach]), whose clients firedrill does not know.
	From string
	// To is the server container's name; empty for an attached proxy.
	To string
	// Port is the server port, normalized ("5432/tcp").
	Port string
	// Proxy is the toxiproxy proxy; add toxics through it.
	Proxy *toxiproxy.Proxy
	// Listen is the in-network address containers dial ("toxiproxy:20001"),
	// the value ${link:NAME} expands to.
	Listen string
	// HostAddr is the address the test process dials ("127.0.0.1:49153");
	// empty unless From is Host.
	HostAddr string
	// Upstream is the address toxiproxy forwards to ("db:5432").
	Upstream string

	client *toxiproxy.Client
	mu     sync.Mutex // toxiproxy's Enable/Disable mutate the shared *Proxy
}

// String returns the link's name.
func (l *Link) String() string { return l.Name }

// Client returns the toxiproxy API client of the system's toxiproxy.
func (l *Link) Client() *toxiproxy.Client { return l.client }

// Disable takes the link down: toxiproxy closes its listener and every
// open connection, so new connections are refused.
func (l *Link) Disable(ctx context.Context) error {
	if err := callCtx(ctx, l.locked(l.Proxy.Disable)); err != nil {
		return fmt.Errorf("disable link %s: %w", l.Name, err)
	}
	return nil
}

// Enable brings the link back up.
func (l *Link) Enable(ctx context.Context) error {
	if err := callCtx(ctx, l.locked(l.Proxy.Enable)); err != nil {
		return fmt.Errorf("enable link %s: %w", l.Name, err)
	}
	return nil
}

// AddToxic adds t to the link's proxy (Stream "upstream" or "downstream",
// the latter if empty; a Toxicity of 0 is taken as 1, always).
func (l *Link) AddToxic(ctx context.Context, t toxiproxy.Toxic) error {
	if t.Toxicity == 0 {
		t.Toxicity = 1
	}
	err := callCtx(ctx, l.locked(func() error {
		_, err := l.Proxy.AddToxic(t.Name, t.Type, t.Stream, t.Toxicity, t.Attributes)
		return err
	}))
	if err != nil {
		return fmt.Errorf("add %s toxic %q on link %s: %w", t.Type, t.Name, l.Name, err)
	}
	return nil
}

// RemoveToxic removes the toxic named name from the link's proxy; a toxic
// that does not exist yields a *toxiproxy.ApiError with Status 404.
func (l *Link) RemoveToxic(ctx context.Context, name string) error {
	if err := callCtx(ctx, l.locked(func() error { return l.Proxy.RemoveToxic(name) })); err != nil {
		return fmt.Errorf("remove toxic %q from link %s: %w", name, l.Name, err)
	}
	return nil
}

func (l *Link) locked(fn func() error) func() error {
	return func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		return fn()
	}
}

// callCtx runs fn (a toxiproxy client call, which takes no context) and
// returns early when ctx is done.
func callCtx(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
