package faults

import (
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// BandwidthFault limits a link to a rate in KB/s (toxiproxy's bandwidth
// toxic). A rate of 0 stalls the stream.
type BandwidthFault struct {
	toxic
	rateKB int64
}

var _ Fault = (*BandwidthFault)(nil)
var _ Validator = (*BandwidthFault)(nil)

// Bandwidth limits link to kbPerSecond kilobytes per second.
func Bandwidth(link ToxicTarget, kbPerSecond int64) *BandwidthFault {
	f := &BandwidthFault{rateKB: kbPerSecond}
	f.init(link, "bandwidth")
	f.attrs = func() toxiproxy.Attributes { return toxiproxy.Attributes{"rate": f.rateKB} }
	f.params = func() string { return fmt.Sprintf("%dKB/s", f.rateKB) }
	f.validate = func() error {
		if f.rateKB < 0 {
			return fmt.Errorf("%w: negative rate %d KB/s", ErrInvalid, f.rateKB)
		}
		return nil
	}
	return f
}

// Upstream puts the toxic on the client→server stream.
func (f *BandwidthFault) Upstream() *BandwidthFault { f.dir = Upstream; return f }

// Downstream puts the toxic on the server→client stream (the default).
func (f *BandwidthFault) Downstream() *BandwidthFault { f.dir = Downstream; return f }

// Both puts one toxic on each stream.
func (f *BandwidthFault) Both() *BandwidthFault { f.dir = BothWays; return f }

// Direction sets the stream: Upstream, Downstream or BothWays.
func (f *BandwidthFault) Direction(d Direction) *BandwidthFault { f.dir = d; return f }

// Toxicity is the probability (0 < p ≤ 1, default 1) that a connection is
// affected.
func (f *BandwidthFault) Toxicity(p float64) *BandwidthFault { f.toxicity = float32(p); return f }
