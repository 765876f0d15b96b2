package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// MemberRoutes is every route link of one member as one toxic target: a
// toxic added to it is added to each link (and removed from each), so a
// latency toxic on it slows all of the member's replication traffic,
// whichever side dialed each route. It prints as "routes(nats2)".
type MemberRoutes struct {
	Member string
	Links  []*scenarios.Link
}

var _ faults.ToxicTarget = (*MemberRoutes)(nil)

// String is "routes(<member>)".
func (r *MemberRoutes) String() string { return "routes(" + r.Member + ")" }

// Enable enables every link.
func (r *MemberRoutes) Enable(ctx context.Context) error {
	return r.each(func(l *scenarios.Link) error { return l.Enable(ctx) })
}

// Disable disables every link: the member is cut off from the cluster
// (its clients still reach it).
func (r *MemberRoutes) Disable(ctx context.Context) error {
	return r.each(func(l *scenarios.Link) error { return l.Disable(ctx) })
}

// AddToxic adds t to every link; on an error the links already given it
// have it removed again.
func (r *MemberRoutes) AddToxic(ctx context.Context, t toxiproxy.Toxic) error {
	for i, l := range r.Links {
		if err := l.AddToxic(ctx, t); err != nil {
			for _, done := range r.Links[:i] {
				_ = done.RemoveToxic(ctx, t.Name)
			}
			return fmt.Errorf("%s: add toxic %s to %s: %w", r, t.Name, l.Name, err)
		}
	}
	return nil
}

// RemoveToxic removes the toxic named name from every link; it is not
// found only when no link had it.
func (r *MemberRoutes) RemoveToxic(ctx context.Context, name string) error {
	var errs []error
	notFound := 0
	for _, l := range r.Links {
		if err := l.RemoveToxic(ctx, name); err != nil {
			if faults.IsNotFound(err) {
				notFound++
				continue
			}
			errs = append(errs, fmt.Errorf("%s: %w", l.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: remove toxic %s: %w", r, name, errors.Join(errs...))
	}
	if notFound == len(r.Links) {
		return fmt.Errorf("%s: remove toxic %s: on none of %s: %w", r, name, r.linkNames(), &toxiproxy.ApiError{Message: "toxic not found", Status: 404})
	}
	return nil
}

func (r *MemberRoutes) each(fn func(*scenarios.Link) error) error {
	var errs []error
	for _, l := range r.Links {
		if err := fn(l); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (r *MemberRoutes) linkNames() string {
	var n []string
	for _, l := range r.Links {
		n = append(n, l.Name)
	}
	return strings.Join(n, ", ")
}

// RoutesOfMember returns member name's route links as one toxic target.
func (c *Cluster) RoutesOfMember(name string) (*MemberRoutes, error) {
	if c.Member(name) == nil {
		return nil, fmt.Errorf("no member %q: use one of %v", name, Members())
	}
	return &MemberRoutes{Member: name, Links: c.RoutesOf(name)}, nil
}

// FollowerRoutes returns the route links of the first of
// [Cluster.Followers] now, as one toxic target, for a fault aimed at a
// follower when it fires:
// faults.Latency(faults.ChooseLink("a follower's routes", cluster.FollowerRoutes), d).Both().
func (c *Cluster) FollowerRoutes(ctx context.Context) (faults.ToxicTarget, error) {
	f, err := c.Followers(ctx)
	if err != nil {
		return nil, err
	}
	return c.RoutesOfMember(f[0].Name)
}
