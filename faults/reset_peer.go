package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// ResetPeerFault resets connections on a link with a TCP RST after a
// timeout (toxiproxy's reset_peer toxic).
type ResetPeerFault struct {
	toxic
	after time.Duration
}

var _ Fault = (*ResetPeerFault)(nil)
var _ Validator = (*ResetPeerFault)(nil)

// ResetPeer resets each connection on link after it has been open for
// after (0: at once, on the first data).
func ResetPeer(link ToxicTarget, after time.Duration) *ResetPeerFault {
	f := &ResetPeerFault{after: after}
	f.init(link, "reset_peer")
	f.attrs = func() toxiproxy.Attributes { return toxiproxy.Attributes{"timeout": f.after.Milliseconds()} }
	f.params = func() string { return "after " + f.after.String() }
	f.validate = func() error {
		if f.after < 0 {
			return fmt.Errorf("%w: negative timeout %v", ErrDuration, f.after)
		}
		return nil
	}
	return f
}

// Upstream puts the toxic on the client→server stream.
func (f *ResetPeerFault) Upstream() *ResetPeerFault { f.dir = Upstream; return f }

// Downstream puts the toxic on the server→client stream (the default).
func (f *ResetPeerFault) Downstream() *ResetPeerFault { f.dir = Downstream; return f }

// Both puts one toxic on each stream.
func (f *ResetPeerFault) Both() *ResetPeerFault { f.dir = BothWays; return f }

// Direction sets the stream: Upstream, Downstream or BothWays.
func (f *ResetPeerFault) Direction(d Direction) *ResetPeerFault { f.dir = d; return f }

// Toxicity is the probability (0 < p ≤ 1, default 1) that a connection is
// affected.
func (f *ResetPeerFault) Toxicity(p float64) *ResetPeerFault { f.toxicity = float32(p); return f }
