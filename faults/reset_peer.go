package faults

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// ResetPeerFault resets connections on a link with a TCP RST after a
// timeout (toxiproxy's reset_peer toxic).
type ResetPeerFault = Toxic[resetPeer]

// resetPeer is the reset_peer toxic's own settings.
type resetPeer struct{ after time.Duration }

var _ Fault = (*ResetPeerFault)(nil)
var _ Validator = (*ResetPeerFault)(nil)

// ResetPeer resets each connection on link after it has been open for
// after (0: at once, on the first data).
func ResetPeer(link ToxicTarget, after time.Duration) *ResetPeerFault {
	return newToxic(link, resetPeer{after: after})
}

func (resetPeer) toxicType() string { return "reset_peer" }

// attributes: toxiproxy calls the delay before the reset "timeout".
func (k resetPeer) attributes() toxiproxy.Attributes {
	return toxiproxy.Attributes{"timeout": k.after.Milliseconds()}
}

func (k resetPeer) String() string { return "after " + k.after.String() }

func (k resetPeer) validate() error {
	if k.after < 0 {
		return fmt.Errorf("%w: negative timeout %v", ErrDuration, k.after)
	}
	return nil
}
