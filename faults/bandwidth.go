package faults

import (
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// BandwidthFault limits a link to a rate in KB/s (toxiproxy's bandwidth
// toxic). A rate of 0 stalls the stream.
type BandwidthFault = Toxic[bandwidth]

// bandwidth is the bandwidth toxic's own settings.
type bandwidth struct{ rateKB int64 }

var _ Fault = (*BandwidthFault)(nil)
var _ Validator = (*BandwidthFault)(nil)

// Bandwidth limits link to kbPerSecond kilobytes per second.
func Bandwidth(link ToxicTarget, kbPerSecond int64) *BandwidthFault {
	return newToxic(link, bandwidth{rateKB: kbPerSecond})
}

func (bandwidth) toxicType() string { return "bandwidth" }

func (k bandwidth) attributes() toxiproxy.Attributes { return toxiproxy.Attributes{"rate": k.rateKB} }

func (k bandwidth) String() string { return fmt.Sprintf("%dKB/s", k.rateKB) }

func (k bandwidth) validate() error {
	if k.rateKB < 0 {
		return fmt.Errorf("%w: negative rate %d KB/s", ErrInvalid, k.rateKB)
	}
	return nil
}
