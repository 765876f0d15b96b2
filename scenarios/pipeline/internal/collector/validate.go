package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Limits of the ingest API.
const (
	MaxBatchItems = 1000
	MaxBodyBytes  = 4 << 20
	MaxIDLen      = 128
	MaxSourceLen  = 64
)

// Item is one validated event of a batch.
type Item struct {
	ID     string
	Source string
	Raw    []byte // the item as sent; stored as the lake body
}

// ItemError is the reason one item of a batch was rejected.
type ItemError struct {
	Index  int    `json:"index"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

type wireItem struct {
	ID      json.RawMessage `json:"id"`
	Source  json.RawMessage `json:"source"`
	TS      json.RawMessage `json:"ts"`
	Payload json.RawMessage `json:"payload"`
}

// Validate parses a batch body. It returns the items (duplicates of an id
// within the batch removed, first occurrence wins), or a batch-level error,
// or per-item errors. Validation is about transport, not the warehouse
// schema: an item that passes here is stored in the lake even if the loader
// later quarantines it.
func Validate(body []byte) ([]Item, []ItemError, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '[' {
		return nil, nil, fmt.Errorf("body must be a JSON array of events")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, nil, fmt.Errorf("body is not valid JSON: %w", err)
	}
	if len(raws) == 0 {
		return nil, nil, fmt.Errorf("batch is empty")
	}
	if len(raws) > MaxBatchItems {
		return nil, nil, fmt.Errorf("batch has %d items, at most %d allowed", len(raws), MaxBatchItems)
	}
	items := make([]Item, 0, len(raws))
	seen := make(map[string]bool, len(raws))
	var bad []ItemError
	for i, raw := range raws {
		it, err := validateItem(raw)
		if err != nil {
			bad = append(bad, ItemError{Index: i, ID: it.ID, Reason: err.Error()})
			continue
		}
		if seen[it.ID] {
			continue
		}
		seen[it.ID] = true
		items = append(items, it)
	}
	if len(bad) > 0 {
		return nil, bad, nil
	}
	return items, nil, nil
}

func validateItem(raw json.RawMessage) (Item, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Item{}, fmt.Errorf("item must be a JSON object")
	}
	if !utf8.Valid(raw) {
		return Item{}, fmt.Errorf("item is not valid UTF-8")
	}
	if bytes.Contains(raw, []byte(`\u0000`)) {
		return Item{}, fmt.Errorf(`item contains \u0000, which the lake cannot store`)
	}
	var w wireItem
	if err := json.Unmarshal(raw, &w); err != nil {
		return Item{}, fmt.Errorf("item: %w", err)
	}
	var it Item
	if err := text(w.ID, &it.ID); err != nil {
		return it, fmt.Errorf("id: %w", err)
	}
	if err := checkText(it.ID, MaxIDLen); err != nil {
		return it, fmt.Errorf("id: %w", err)
	}
	if err := text(w.Source, &it.Source); err != nil {
		return it, fmt.Errorf("source: %w", err)
	}
	if err := checkText(it.Source, MaxSourceLen); err != nil {
		return it, fmt.Errorf("source: %w", err)
	}
	var ts string
	if err := text(w.TS, &ts); err != nil {
		return it, fmt.Errorf("ts: %w", err)
	}
	p := bytes.TrimSpace(w.Payload)
	if len(p) == 0 {
		return it, fmt.Errorf("payload: missing")
	}
	if p[0] != '{' {
		return it, fmt.Errorf("payload: must be a JSON object")
	}
	it.Raw = raw
	return it, nil
}

func text(raw json.RawMessage, dst *string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return fmt.Errorf("missing")
	}
	if raw[0] != '"' {
		return fmt.Errorf("must be a string")
	}
	return json.Unmarshal(raw, dst)
}

func checkText(s string, max int) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%d characters, at most %d allowed", n, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return fmt.Errorf("contains a control or invalid character")
		}
	}
	return nil
}
