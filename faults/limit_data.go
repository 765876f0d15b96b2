package faults

import (
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// LimitDataFault closes each connection on a link once it has carried a
// number of bytes (toxiproxy's limit_data toxic).
type LimitDataFault struct {
	toxic
	bytes int64
}

var _ Fault = (*LimitDataFault)(nil)
var _ Validator = (*LimitDataFault)(nil)

// LimitData closes each connection on link after bytes bytes.
func LimitData(link ToxicTarget, bytes int64) *LimitDataFault {
	f := &LimitDataFault{bytes: bytes}
	f.init(link, "limit_data")
	f.attrs = func() toxiproxy.Attributes { return toxiproxy.Attributes{"bytes": f.bytes} }
	f.params = func() string { return fmt.Sprintf("%dB", f.bytes) }
	f.validate = func() error {
		if f.bytes < 0 {
			return fmt.Errorf("%w: negative byte limit %d", ErrInvalid, f.bytes)
		}
		return nil
	}
	return f
}

// Upstream puts the toxic on the client→server stream.
func (f *LimitDataFault) Upstream() *LimitDataFault { f.dir = Upstream; return f }

// Downstream puts the toxic on the server→client stream (the default).
func (f *LimitDataFault) Downstream() *LimitDataFault { f.dir = Downstream; return f }

// Both puts one toxic on each stream.
func (f *LimitDataFault) Both() *LimitDataFault { f.dir = BothWays; return f }

// Direction sets the stream: Upstream, Downstream or BothWays.
func (f *LimitDataFault) Direction(d Direction) *LimitDataFault { f.dir = d; return f }

// Toxicity is the probability (0 < p ≤ 1, default 1) that a connection is
// affected.
func (f *LimitDataFault) Toxicity(p float64) *LimitDataFault { f.toxicity = float32(p); return f }
