package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// SlowCloseFault delays the closing of connections on a link (toxiproxy's
// slow_close toxic).
type SlowCloseFault struct {
	toxic
	delay time.Duration
}

var _ Fault = (*SlowCloseFault)(nil)
var _ Validator = (*SlowCloseFault)(nil)

// SlowClose delays the close of each connection on link by delay.
func SlowClose(link ToxicTarget, delay time.Duration) *SlowCloseFault {
	f := &SlowCloseFault{delay: delay}
	f.init(link, "slow_close")
	f.attrs = func() toxiproxy.Attributes { return toxiproxy.Attributes{"delay": f.delay.Milliseconds()} }
	f.params = func() string { return f.delay.String() }
	f.validate = func() error {
		if f.delay < time.Millisecond {
			return fmt.Errorf("%w: delay %v (at least 1ms)", ErrDuration, f.delay)
		}
		return nil
	}
	return f
}

// Upstream puts the toxic on the client→server stream.
func (f *SlowCloseFault) Upstream() *SlowCloseFault { f.dir = Upstream; return f }

// Downstream puts the toxic on the server→client stream (the default).
func (f *SlowCloseFault) Downstream() *SlowCloseFault { f.dir = Downstream; return f }

// Both puts one toxic on each stream.
func (f *SlowCloseFault) Both() *SlowCloseFault { f.dir = BothWays; return f }

// Direction sets the stream: Upstream, Downstream or BothWays.
func (f *SlowCloseFault) Direction(d Direction) *SlowCloseFault { f.dir = d; return f }

// Toxicity is the probability (0 < p ≤ 1, default 1) that a connection is
// affected.
func (f *SlowCloseFault) Toxicity(p float64) *SlowCloseFault { f.toxicity = float32(p); return f }
