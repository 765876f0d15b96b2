package reports

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that marshals to JSON as seconds (a float),
// so reports are readable by any tool.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Seconds returns the value in seconds.
func (d Duration) Seconds() float64 { return time.Duration(d).Seconds() }

// MarshalJSON writes seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Seconds())
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a number of seconds: %w", err)
	}
	*d = Duration(s * float64(time.Second))
	return nil
}
