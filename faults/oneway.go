package faults

import (
	"context"
	"fmt"
)

// OneWayFault is a one-way partition on a link: data in one direction is
// held (toxiproxy timeout toxic with no timeout) while the other direction
// flows. Upstream cuts client→server, Downstream cuts server→client.
type OneWayFault struct {
	t   *TimeoutFault
	dir Direction
}

var _ Fault = (*OneWayFault)(nil)
var _ Validator = (*OneWayFault)(nil)

// OneWay holds every byte sent on link in direction dir (Upstream or
// Downstream) until reverted.
func OneWay(link ToxicTarget, dir Direction) *OneWayFault {
	return &OneWayFault{t: Timeout(link, 0).Direction(dir), dir: dir}
}

// Name is "oneway(<link>, <direction>)".
func (f *OneWayFault) Name() string {
	return "oneway(" + nameOf(f.t.Link()) + ", " + string(f.dir) + ")"
}

// Validate checks the link and that the direction is one way.
func (f *OneWayFault) Validate() error {
	if f.dir != Upstream && f.dir != Downstream {
		return fmt.Errorf("oneway on %s: %w: direction %q (want upstream or downstream)", nameOf(f.t.Link()), ErrInvalid, f.dir)
	}
	return f.t.Validate()
}

// Inject adds the toxic.
func (f *OneWayFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return f.t.Inject(ctx)
}

// Revert removes it.
func (f *OneWayFault) Revert(ctx context.Context) error { return f.t.Revert(ctx) }
