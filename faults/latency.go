package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// LatencyFault delays every chunk of data on a link by a fixed latency plus
// a random jitter (toxiproxy's latency toxic).
type LatencyFault struct {
	toxic
	latency, jitter time.Duration
}

var _ Fault = (*LatencyFault)(nil)
var _ Validator = (*LatencyFault)(nil)

// Latency delays data on link by d (downstream unless told otherwise).
func Latency(link ToxicTarget, d time.Duration) *LatencyFault {
	f := &LatencyFault{latency: d}
	f.init(link, "latency")
	f.attrs = func() toxiproxy.Attributes {
		return toxiproxy.Attributes{"latency": f.latency.Milliseconds(), "jitter": f.jitter.Milliseconds()}
	}
	f.params = func() string {
		if f.jitter > 0 {
			return fmt.Sprintf("%v±%v", f.latency, f.jitter)
		}
		return f.latency.String()
	}
	f.validate = func() error {
		if f.latency < time.Millisecond {
			return fmt.Errorf("%w: latency %v (toxiproxy counts whole milliseconds, at least 1ms)", ErrDuration, f.latency)
		}
		if f.jitter < 0 {
			return fmt.Errorf("%w: negative jitter %v", ErrInvalid, f.jitter)
		}
		return nil
	}
	return f
}

// Jitter adds a random ±j to each delay.
func (f *LatencyFault) Jitter(j time.Duration) *LatencyFault { f.jitter = j; return f }

// Upstream puts the toxic on the client→server stream.
func (f *LatencyFault) Upstream() *LatencyFault { f.dir = Upstream; return f }

// Downstream puts the toxic on the server→client stream (the default).
func (f *LatencyFault) Downstream() *LatencyFault { f.dir = Downstream; return f }

// Both puts one toxic on each stream.
func (f *LatencyFault) Both() *LatencyFault { f.dir = BothWays; return f }

// Direction sets the stream: Upstream, Downstream or BothWays.
func (f *LatencyFault) Direction(d Direction) *LatencyFault { f.dir = d; return f }

// Toxicity is the probability (0 < p ≤ 1, default 1) that a connection is
// affected.
func (f *LatencyFault) Toxicity(p float64) *LatencyFault { f.toxicity = float32(p); return f }
