// Package schema turns raw lake rows into typed warehouse events.
//
// The schema is versioned. The version in force lives in the warehouse
// (pipeline_control.schema_version) and is read by the loader for every batch
// and by pipelinectl for backfill and requeue-quarantine, so "fixing the
// schema" is a data change (`pipelinectl schema --set 2`), not a deploy.
//
//   - Version 1 (default, strict): ts is an RFC 3339 string; payload.user_id a
//     non-empty string of at most 64 characters; payload.amount a JSON number
//     written as a plain decimal (at most 12 integer and 6 fraction digits, no
//     exponent); payload.kind an optional string of at most 32 characters.
//   - Version 2: as version 1, and payload.amount may also be a string holding
//     such a decimal ("12.50"): the fix for the poison-batch drill.
//
// Apply is deterministic: the same row and version always give the same event
// or the same reason, which is what lets the warehouse be compared with
// schema(lake).
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Supported schema versions.
const (
	V1 = 1
	V2 = 2
	// Latest is the newest version this binary knows.
	Latest = V2
)

// Valid reports whether v is a schema version this binary can apply.
func Valid(v int) bool { return v >= V1 && v <= Latest }

// Row is one raw event as stored in the lake.
type Row struct {
	Seq        int64
	EventID    string
	Source     string
	ReceivedAt time.Time
	Body       []byte // the item as received by the collector (jsonb)
}

// Event is a row of the warehouse table events.
type Event struct {
	EventID       string
	Seq           int64
	Source        string
	TS            time.Time
	UserID        string
	Amount        string // decimal literal, stored as numeric
	Kind          string
	ReceivedAt    time.Time
	SchemaVersion int
}

// Rejected is a row that failed the schema, with the reason.
type Rejected struct {
	Row    Row
	Reason string
}

var decimal = regexp.MustCompile(`^-?[0-9]{1,12}(\.[0-9]{1,6})?$`)

type body struct {
	TS      json.RawMessage `json:"ts"`
	Payload json.RawMessage `json:"payload"`
}

type payload struct {
	UserID json.RawMessage `json:"user_id"`
	Amount json.RawMessage `json:"amount"`
	Kind   json.RawMessage `json:"kind"`
}

// Apply applies schema version v to r. A non-nil error is the quarantine
// reason; it names the field and the problem.
func Apply(v int, r Row) (Event, error) {
	if !Valid(v) {
		return Event{}, fmt.Errorf("unknown schema version %d", v)
	}
	var b body
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return Event{}, fmt.Errorf("body: not a JSON object: %w", err)
	}
	ev := Event{EventID: r.EventID, Seq: r.Seq, Source: r.Source, ReceivedAt: r.ReceivedAt, SchemaVersion: v}

	var ts string
	if err := str(b.TS, &ts); err != nil {
		return Event{}, fmt.Errorf("ts: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Event{}, fmt.Errorf("ts: not an RFC 3339 time: %q", clip(ts))
	}
	ev.TS = t.UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds

	var p payload
	if err := json.Unmarshal(b.Payload, &p); err != nil || !isObject(b.Payload) {
		return Event{}, fmt.Errorf("payload: not a JSON object")
	}
	if err := str(p.UserID, &ev.UserID); err != nil {
		return Event{}, fmt.Errorf("payload.user_id: %w", err)
	}
	if ev.UserID == "" || utf8.RuneCountInString(ev.UserID) > 64 {
		return Event{}, fmt.Errorf("payload.user_id: must be 1 to 64 characters")
	}
	amount, err := amountOf(v, p.Amount)
	if err != nil {
		return Event{}, fmt.Errorf("payload.amount: %w", err)
	}
	ev.Amount = amount
	if len(p.Kind) > 0 && !bytes.Equal(p.Kind, []byte("null")) {
		if err := str(p.Kind, &ev.Kind); err != nil {
			return Event{}, fmt.Errorf("payload.kind: %w", err)
		}
		if utf8.RuneCountInString(ev.Kind) > 32 {
			return Event{}, fmt.Errorf("payload.kind: longer than 32 characters")
		}
	}
	return ev, nil
}

func amountOf(v int, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return "", fmt.Errorf("missing")
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("bad string: %w", err)
		}
		if v < V2 {
			return "", fmt.Errorf("a string (%q), want a number (accepted from schema version 2)", clip(s))
		}
		if !decimal.MatchString(s) {
			return "", fmt.Errorf("string %q is not a plain decimal", clip(s))
		}
		return s, nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		s := string(raw)
		if !decimal.MatchString(s) {
			return "", fmt.Errorf("number %s is not a plain decimal (at most 12.6 digits, no exponent)", clip(s))
		}
		return s, nil
	default:
		return "", fmt.Errorf("not a number: %s", clip(string(raw)))
	}
}

func str(raw json.RawMessage, dst *string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return fmt.Errorf("missing")
	}
	if raw[0] != '"' {
		return fmt.Errorf("not a string: %s", clip(string(raw)))
	}
	return json.Unmarshal(raw, dst)
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}

// Split applies version v to every row, in order.
func Split(v int, rows []Row) (ok []Event, bad []Rejected) {
	for _, r := range rows {
		ev, err := Apply(v, r)
		if err != nil {
			bad = append(bad, Rejected{Row: r, Reason: err.Error()})
			continue
		}
		ok = append(ok, ev)
	}
	return ok, bad
}
