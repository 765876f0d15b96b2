package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// SlowCloseFault delays the closing of connections on a link (toxiproxy's
// slow_close toxic).
type SlowCloseFault = Toxic[slowClose]

// slowClose is the slow_close toxic's own settings.
type slowClose struct{ delay time.Duration }

var _ Fault = (*SlowCloseFault)(nil)
var _ Validator = (*SlowCloseFault)(nil)

// SlowClose delays the close of each connection on link by delay.
func SlowClose(link ToxicTarget, delay time.Duration) *SlowCloseFault {
	return newToxic(link, slowClose{delay: delay})
}

func (slowClose) toxicType() string { return "slow_close" }

func (k slowClose) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"delay": k.delay.Milliseconds()}
}

func (k slowClose) String() string { return k.delay.String() }

func (k slowClose) validate() error {
	if k.delay < time.Millisecond {
		return fmt.Errorf("%w: delay %v (at least 1ms)", ErrDuration, k.delay)
	}
	return nil
}
