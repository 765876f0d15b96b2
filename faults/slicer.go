package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// SlicerFault slices data on a link into small packets, optionally delayed
// between them (toxiproxy's slicer toxic). Variation and Delay are its own
// settings; Upstream, Toxicity and the other settings every toxic shares
// come from Toxic and return a *Toxic, so they follow them in a chain.
type SlicerFault struct {
	Toxic[slicer]
}

// slicer is the slicer toxic's own settings.
type slicer struct {
	avg, variation int
	delay          time.Duration
}

var _ Fault = (*SlicerFault)(nil)
var _ Validator = (*SlicerFault)(nil)

// Slicer cuts data on link into packets of averageBytes (± Variation),
// with Delay between them.
func Slicer(link ToxicTarget, averageBytes int) *SlicerFault {
	return &SlicerFault{Toxic[slicer]{spec: defaults(link, slicer{avg: averageBytes})}}
}

// Variation sets the random variation of the packet size in bytes.
func (f *SlicerFault) Variation(bytes int) *SlicerFault {
	return f.withKind(func(k *slicer) { k.variation = bytes })
}

// Delay sets the pause between packets.
func (f *SlicerFault) Delay(d time.Duration) *SlicerFault {
	return f.withKind(func(k *slicer) { k.delay = d })
}

// withKind is a fresh fault with f's settings and the slicer's changed by set.
func (f *SlicerFault) withKind(set func(*slicer)) *SlicerFault {
	s := f.spec
	set(&s.kind)
	return &SlicerFault{Toxic[slicer]{spec: s}}
}

func (slicer) toxicType() string { return "slicer" }

func (k slicer) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"average_size": k.avg, "size_variation": k.variation, "delay": k.delay.Microseconds()}
}

func (k slicer) String() string { return fmt.Sprintf("%d±%dB, %v", k.avg, k.variation, k.delay) }

func (k slicer) validate() error {
	if k.avg <= 0 {
		return fmt.Errorf("%w: average size %d bytes (want > 0)", ErrInvalid, k.avg)
	}
	if k.variation < 0 || k.variation >= k.avg {
		return fmt.Errorf("%w: size variation %d (want 0 ≤ variation < average %d)", ErrInvalid, k.variation, k.avg)
	}
	if k.delay < 0 {
		return fmt.Errorf("%w: negative delay %v", ErrDuration, k.delay)
	}
	return nil
}
