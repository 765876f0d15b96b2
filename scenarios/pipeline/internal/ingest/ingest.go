// Package ingest is an at-least-once client of the collector: it posts a
// batch and, on 503, a network error or a timeout, posts it again with the
// same event ids (honouring Retry-After) until the batch is acknowledged,
// the collector rejects it (400: retrying cannot help), or ctx ends. With the
// collector's idempotency by id this gives exactly-once in the lake.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/backoff"
)

// Event is one item of a batch. Payload is any JSON object.
type Event struct {
	ID      string          `json:"id"`
	Source  string          `json:"source"`
	TS      string          `json:"ts"`
	Payload json.RawMessage `json:"payload"`
}

// NewEvent returns a well-formed event; with poison its amount is a string,
// which schema version 1 quarantines and version 2 accepts.
func NewEvent(id, source string, ts time.Time, userID string, cents int64, poison bool) Event {
	amount := fmt.Sprintf("%d.%02d", cents/100, abs(cents%100))
	if cents < 0 && cents > -100 {
		amount = "-" + amount
	}
	if poison {
		amount = strconv.Quote(amount)
	}
	p := fmt.Sprintf(`{"user_id":%q,"amount":%s,"kind":"purchase"}`, userID, amount)
	return Event{ID: id, Source: source, TS: ts.UTC().Format(time.RFC3339Nano), Payload: json.RawMessage(p)}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// ErrRejected wraps a 400/413: the batch is invalid and was not stored.
var ErrRejected = errors.New("batch rejected by the collector")

// Result is the outcome of one POST.
type Result struct {
	Status     int           // HTTP status, 0 on a transport error
	Accepted   []string      // ids acknowledged (202)
	New        int           // of which newly stored
	RetryAfter time.Duration // from a 503
	Body       string        // the response body of a non-202
}

// Client posts batches to a collector.
type Client struct {
	URL  string       // base URL, e.g. http://127.0.0.1:49153
	HTTP *http.Client // default: 2 s timeout
	// Backoff between attempts when the collector gives no Retry-After;
	// default backoff.Exponential(50ms, 1s).
	Backoff backoff.Policy
	// MaxRetryAfter caps a Retry-After wait; default 1 s.
	MaxRetryAfter time.Duration
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 2 * time.Second}
}

// Post sends batch once.
func (c *Client) Post(ctx context.Context, batch []Event) (Result, error) {
	body, err := json.Marshal(batch)
	if err != nil {
		return Result{}, fmt.Errorf("encode batch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("post batch: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Result{Status: resp.StatusCode}, fmt.Errorf("read response: %w", err)
	}
	r := Result{Status: resp.StatusCode}
	if resp.StatusCode == http.StatusAccepted {
		var a struct {
			Accepted []string `json:"accepted"`
			New      int      `json:"new"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return r, fmt.Errorf("decode 202: %w", err)
		}
		r.Accepted, r.New = a.Accepted, a.New
		return r, nil
	}
	r.Body = string(raw)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		r.RetryAfter = time.Duration(s) * time.Second
	}
	return r, nil
}

// Send posts batch until it is acknowledged and returns the acknowledged ids
// and the number of attempts. A 400/413 returns ErrRejected at once; ctx
// ending returns ctx's error (the batch may or may not be stored: send it
// again later, with the same ids).
func (c *Client) Send(ctx context.Context, batch []Event) ([]string, int, error) {
	pol := c.Backoff
	if pol == nil {
		pol = backoff.Exponential(50*time.Millisecond, time.Second, nil)
	}
	maxRA := c.MaxRetryAfter
	if maxRA <= 0 {
		maxRA = time.Second
	}
	for attempt := 1; ; attempt++ {
		r, err := c.Post(ctx, batch)
		switch {
		case err == nil && r.Status == http.StatusAccepted:
			return r.Accepted, attempt, nil
		case err == nil && (r.Status == http.StatusBadRequest || r.Status == http.StatusRequestEntityTooLarge):
			return nil, attempt, fmt.Errorf("%w: %d %s", ErrRejected, r.Status, r.Body)
		}
		wait := pol(attempt)
		if err == nil && r.RetryAfter > 0 {
			wait = min(r.RetryAfter, maxRA)
		}
		if !backoff.Sleep(ctx, wait) {
			return nil, attempt, fmt.Errorf("send batch: %w", ctx.Err())
		}
	}
}
