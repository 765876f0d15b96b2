package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// TimeoutFault stops all data on a link and closes each connection after a
// timeout (toxiproxy's timeout toxic). With a timeout of 0 connections are
// never closed: data is held until the fault is reverted (a black hole).
type TimeoutFault struct {
	toxic
	timeout time.Duration
}

var _ Fault = (*TimeoutFault)(nil)
var _ Validator = (*TimeoutFault)(nil)

// Timeout stops data on link and closes connections after d; d = 0 holds
// them open forever.
func Timeout(link ToxicTarget, d time.Duration) *TimeoutFault {
	f := &TimeoutFault{timeout: d}
	f.init(link, "timeout")
	f.attrs = func() toxiproxy.Attributes { return toxiproxy.Attributes{"timeout": f.timeout.Milliseconds()} }
	f.params = func() string {
		if f.timeout == 0 {
			return "forever"
		}
		return f.timeout.String()
	}
	f.validate = func() error {
		if f.timeout < 0 {
			return fmt.Errorf("%w: negative timeout %v", ErrDuration, f.timeout)
		}
		return nil
	}
	return f
}

// Upstream puts the toxic on the client→server stream.
func (f *TimeoutFault) Upstream() *TimeoutFault { f.dir = Upstream; return f }

// Downstream puts the toxic on the server→client stream (the default).
func (f *TimeoutFault) Downstream() *TimeoutFault { f.dir = Downstream; return f }

// Both puts one toxic on each stream.
func (f *TimeoutFault) Both() *TimeoutFault { f.dir = BothWays; return f }

// Direction sets the stream: Upstream, Downstream or BothWays.
func (f *TimeoutFault) Direction(d Direction) *TimeoutFault { f.dir = d; return f }

// Toxicity is the probability (0 < p ≤ 1, default 1) that a connection is
// affected.
func (f *TimeoutFault) Toxicity(p float64) *TimeoutFault { f.toxicity = float32(p); return f }
