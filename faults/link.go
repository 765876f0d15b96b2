package faults

import (
	"context"
	"fmt"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/firedrill/firedrill/scenarios"
)

// ProxyLink adapts a toxiproxy client proxy to a ToxicTarget, for links
// that were not made by the scenarios runtime.
func ProxyLink(p *toxiproxy.Proxy) ToxicTarget { return &proxyLink{p: p} }

type proxyLink struct {
	mu sync.Mutex // Enable/Disable mutate the shared *Proxy
	p  *toxiproxy.Proxy
}

func (l *proxyLink) String() string {
	if l.p == nil {
		return "<nil proxy>"
	}
	return l.p.Name
}

// call runs fn, a toxiproxy client call (which takes no context), and
// returns early when ctx is done.
func call(ctx context.Context, fn func() error) error {
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

func (l *proxyLink) AddToxic(ctx context.Context, t toxiproxy.Toxic) error {
	return call(ctx, func() error {
		_, err := l.p.AddToxic(t.Name, t.Type, t.Stream, t.Toxicity, t.Attributes)
		return err
	})
}

func (l *proxyLink) RemoveToxic(ctx context.Context, name string) error {
	return call(ctx, func() error { return l.p.RemoveToxic(name) })
}

func (l *proxyLink) Enable(ctx context.Context) error {
	return call(ctx, func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.p.Enable()
	})
}

func (l *proxyLink) Disable(ctx context.Context) error {
	return call(ctx, func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.p.Disable()
	})
}

// LinkBetween finds the link from container from to container to (or from
// scenarios.Host) in a running system. It fails with ErrNoLink, naming the
// links that exist, when the two have no link between them: a toxic there
// would act on nothing.
func LinkBetween(r *scenarios.Running, from, to string) (*scenarios.Link, error) {
	if r == nil {
		return nil, fmt.Errorf("link %s->%s: %w: no running system", from, to, ErrNoTarget)
	}
	var names []string
	for _, l := range r.Links() {
		if l.From == from && l.To == to {
			return l, nil
		}
		names = append(names, l.From+"->"+l.To)
	}
	return nil, fmt.Errorf("link %s->%s: %w (links: %v)", from, to, ErrNoLink, names)
}
