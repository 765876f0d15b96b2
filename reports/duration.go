package reports

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
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

// UnmarshalJSON reads seconds, rounded to the nearest nanosecond (so a
// value survives a write/read round trip exactly).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		// A type error lets encoding/json name the field (e.g. drills.bucket).
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[Duration]()}
	}
	if math.IsNaN(s) || math.IsInf(s, 0) || math.Abs(s) > math.MaxInt64/float64(time.Second) {
		return fmt.Errorf("duration %v s is out of range", s)
	}
	*d = Duration(math.Round(s * float64(time.Second)))
	return nil
}

// String formats the duration like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "value"
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	default:
		return "value " + string(b)
	}
}
