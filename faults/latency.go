package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// LatencyFault delays every chunk of data on a link by a fixed latency plus
// a random jitter (toxiproxy's latency toxic). Jitter is its own setting;
// Upstream, Toxicity and the other settings every toxic shares come from
// Toxic and return a *Toxic, so they follow Jitter in a chain.
type LatencyFault struct {
	Toxic[latency]
}

// latency is the latency toxic's own settings.
type latency struct {
	latency, jitter time.Duration
}

var _ Fault = (*LatencyFault)(nil)
var _ Validator = (*LatencyFault)(nil)

// Latency delays data on link by d (downstream unless told otherwise).
func Latency(link ToxicTarget, d time.Duration) *LatencyFault {
	return &LatencyFault{Toxic[latency]{spec: defaults(link, latency{latency: d})}}
}

// Jitter adds a random ±j to each delay.
func (f *LatencyFault) Jitter(j time.Duration) *LatencyFault {
	s := f.spec
	s.kind.jitter = j
	return &LatencyFault{Toxic[latency]{spec: s}}
}

func (latency) toxicType() string { return "latency" }

func (k latency) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"latency": k.latency.Milliseconds(), "jitter": k.jitter.Milliseconds()}
}

func (k latency) String() string {
	if k.jitter > 0 {
		return fmt.Sprintf("%v±%v", k.latency, k.jitter)
	}
	return k.latency.String()
}

func (k latency) validate() error {
	if k.latency < time.Millisecond {
		return fmt.Errorf("%w: latency %v (toxiproxy counts whole milliseconds, at least 1ms)", ErrDuration, k.latency)
	}
	if k.jitter < 0 {
		return fmt.Errorf("%w: negative jitter %v", ErrInvalid, k.jitter)
	}
	return nil
}
