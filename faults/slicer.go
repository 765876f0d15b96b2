package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// SlicerFault slices data on a link into small packets, optionally delayed
// between them (toxiproxy's slicer toxic).
type SlicerFault struct {
	toxic
	avg, variation int
	delay          time.Duration
}

var _ Fault = (*SlicerFault)(nil)
var _ Validator = (*SlicerFault)(nil)

// Slicer cuts data on link into packets of averageBytes (± Variation),
// with Delay between them.
func Slicer(link ToxicTarget, averageBytes int) *SlicerFault {
	f := &SlicerFault{avg: averageBytes}
	f.init(link, "slicer")
	f.attrs = func() toxiproxy.Attributes {
		return toxiproxy.Attributes{"average_size": f.avg, "size_variation": f.variation, "delay": f.delay.Microseconds()}
	}
	f.params = func() string { return fmt.Sprintf("%d±%dB, %v", f.avg, f.variation, f.delay) }
	f.validate = func() error {
		if f.avg <= 0 {
			return fmt.Errorf("%w: average size %d bytes (want > 0)", ErrInvalid, f.avg)
		}
		if f.variation < 0 || f.variation >= f.avg {
			return fmt.Errorf("%w: size variation %d (want 0 ≤ variation < average %d)", ErrInvalid, f.variation, f.avg)
		}
		if f.delay < 0 {
			return fmt.Errorf("%w: negative delay %v", ErrDuration, f.delay)
		}
		return nil
	}
	return f
}

// Variation sets the random variation of the packet size in bytes.
func (f *SlicerFault) Variation(bytes int) *SlicerFault { f.variation = bytes; return f }

// Delay sets the pause between packets.
func (f *SlicerFault) Delay(d time.Duration) *SlicerFault { f.delay = d; return f }

// Upstream puts the toxic on the client→server stream.
func (f *SlicerFault) Upstream() *SlicerFault { f.dir = Upstream; return f }

// Downstream puts the toxic on the server→client stream (the default).
func (f *SlicerFault) Downstream() *SlicerFault { f.dir = Downstream; return f }

// Both puts one toxic on each stream.
func (f *SlicerFault) Both() *SlicerFault { f.dir = BothWays; return f }

// Direction sets the stream: Upstream, Downstream or BothWays.
func (f *SlicerFault) Direction(d Direction) *SlicerFault { f.dir = d; return f }

// Toxicity is the probability (0 < p ≤ 1, default 1) that a connection is
// affected.
func (f *SlicerFault) Toxicity(p float64) *SlicerFault { f.toxicity = float32(p); return f }
