package schema_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/schema"
)

func row(body string) schema.Row {
	return schema.Row{Seq: 7, EventID: "e1", Source: "web", ReceivedAt: time.Unix(100, 0).UTC(), Body: []byte(body)}
}

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version int
		body    string
		amount  string
		kind    string
		reason  string // substring; "" = passes
	}{
		{"number", 1, `{"ts":"2026-01-02T03:04:05.123456789Z","payload":{"user_id":"u1","amount":12.5}}`, "12.5", "", ""},
		{"kind", 1, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":-3,"kind":"refund"}}`, "-3", "refund", ""},
		{"null kind", 1, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":0,"kind":null}}`, "0", "", ""},
		{"string amount v1", 1, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":"12.50"}}`, "", "", "payload.amount: a string"},
		{"string amount v2", 2, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":"12.50"}}`, "12.50", "", ""},
		{"bad string amount v2", 2, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":"12,50"}}`, "", "", "not a plain decimal"},
		{"exponent", 2, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":1e3}}`, "", "", "not a plain decimal"},
		{"too many digits", 1, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":1234567890123}}`, "", "", "not a plain decimal"},
		{"bool amount", 2, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":true}}`, "", "", "not a number"},
		{"missing amount", 1, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1"}}`, "", "", "payload.amount: missing"},
		{"missing user", 1, `{"ts":"2026-01-02T03:04:05Z","payload":{"amount":1}}`, "", "", "payload.user_id: missing"},
		{"empty user", 1, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"","amount":1}}`, "", "", "payload.user_id: must be"},
		{"numeric user", 1, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":5,"amount":1}}`, "", "", "payload.user_id: not a string"},
		{"bad ts", 1, `{"ts":"yesterday","payload":{"user_id":"u1","amount":1}}`, "", "", "ts: not an RFC 3339"},
		{"missing ts", 1, `{"payload":{"user_id":"u1","amount":1}}`, "", "", "ts: missing"},
		{"payload array", 1, `{"ts":"2026-01-02T03:04:05Z","payload":[1]}`, "", "", "payload: not a JSON object"},
		{"long kind", 1, `{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":1,"kind":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}`, "", "", "payload.kind"},
		{"unknown version", 3, `{}`, "", "", "unknown schema version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := schema.Apply(tt.version, row(tt.body))
			if tt.reason != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.reason)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.amount, ev.Amount)
			assert.Equal(t, tt.kind, ev.Kind)
			assert.Equal(t, "u1", ev.UserID)
			assert.Equal(t, int64(7), ev.Seq)
			assert.Equal(t, tt.version, ev.SchemaVersion)
			assert.Equal(t, time.UTC, ev.TS.Location())
			assert.Zero(t, ev.TS.Nanosecond()%1000, "truncated to microseconds")
		})
	}
}

func TestSplitKeepsOrderAndIsDeterministic(t *testing.T) {
	t.Parallel()
	rows := []schema.Row{
		row(`{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":1}}`),
		row(`{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":"2"}}`),
		row(`{"ts":"2026-01-02T03:04:05Z","payload":{"user_id":"u1","amount":3}}`),
	}
	ok1, bad1 := schema.Split(1, rows)
	ok2, bad2 := schema.Split(1, rows)
	assert.Equal(t, ok1, ok2)
	assert.Equal(t, bad1, bad2)
	require.Len(t, ok1, 2)
	require.Len(t, bad1, 1)
	assert.Equal(t, "1", ok1[0].Amount)
	assert.Equal(t, "3", ok1[1].Amount)
	ok, bad := schema.Split(2, rows)
	assert.Len(t, ok, 3)
	assert.Empty(t, bad)
}
