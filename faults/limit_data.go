package faults

import (
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// LimitDataFault closes each connection on a link once it has carried a
// number of bytes (toxiproxy's limit_data toxic).
type LimitDataFault = Toxic[limitData]

// limitData is the limit_data toxic's own settings.
type limitData struct{ bytes int64 }

var _ Fault = (*LimitDataFault)(nil)
var _ Validator = (*LimitDataFault)(nil)

// LimitData closes each connection on link after bytes bytes.
func LimitData(link ToxicTarget, bytes int64) *LimitDataFault {
	return newToxic(link, limitData{bytes: bytes})
}

func (limitData) toxicType() string { return "limit_data" }

func (k limitData) attributes() toxiproxy.Attributes { return toxiproxy.Attributes{"bytes": k.bytes} }

func (k limitData) String() string { return fmt.Sprintf("%dB", k.bytes) }

func (k limitData) validate() error {
	if k.bytes < 0 {
		return fmt.Errorf("%w: negative byte limit %d", ErrInvalid, k.bytes)
	}
	return nil
}
