package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// TimeoutFault stops all data on a link and closes each connection after a
// timeout (toxiproxy's timeout toxic). With a timeout of 0 connections are
// never closed: data is held until the fault is reverted (a black hole).
type TimeoutFault = Toxic[timeout]

// timeout is the timeout toxic's own settings.
type timeout struct{ timeout time.Duration }

var _ Fault = (*TimeoutFault)(nil)
var _ Validator = (*TimeoutFault)(nil)

// Timeout stops data on link and closes connections after d; d = 0 holds
// them open forever.
func Timeout(link ToxicTarget, d time.Duration) *TimeoutFault {
	return newToxic(link, timeout{timeout: d})
}

func (timeout) toxicType() string { return "timeout" }

func (k timeout) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"timeout": k.timeout.Milliseconds()}
}

func (k timeout) String() string {
	if k.timeout == 0 {
		return "forever"
	}
	return k.timeout.String()
}

func (k timeout) validate() error {
	if k.timeout < 0 {
		return fmt.Errorf("%w: negative timeout %v", ErrDuration, k.timeout)
	}
	return nil
}
