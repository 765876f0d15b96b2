package collector_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/collector"
)

func item(id string) string {
	return fmt.Sprintf(`{"id":%q,"source":"web","ts":"2026-01-01T00:00:00Z","payload":{"user_id":"u","amount":1}}`, id)
}

func TestValidateBatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		batchErr string
		reasons  []string
		ids      []string
	}{
		{name: "ok", body: "[" + item("a") + "," + item("b") + "]", ids: []string{"a", "b"}},
		{name: "dup in batch", body: "[" + item("a") + "," + item("a") + "]", ids: []string{"a"}},
		{name: "not array", body: item("a"), batchErr: "JSON array"},
		{name: "bad json", body: "[{", batchErr: "not valid JSON"},
		{name: "empty", body: "[]", batchErr: "empty"},
		{name: "too many", body: "[" + strings.Repeat(item("x")+",", collector.MaxBatchItems) + item("y") + "]", batchErr: "at most"},
		{name: "missing id", body: `[{"source":"web","ts":"t","payload":{}}]`, reasons: []string{"id: missing"}},
		{name: "numeric id", body: `[{"id":1,"source":"web","ts":"t","payload":{}}]`, reasons: []string{"id: must be a string"}},
		{name: "long id", body: "[" + item(strings.Repeat("x", 129)) + "]", reasons: []string{"id: 129 characters"}},
		{name: "max id", body: "[" + item(strings.Repeat("é", 128)) + "]", ids: []string{strings.Repeat("é", 128)}},
		{name: "control id", body: `[{"id":"a\nb","source":"web","ts":"t","payload":{}}]`, reasons: []string{"id: contains a control"}},
		{name: "no source", body: `[{"id":"a","ts":"t","payload":{}}]`, reasons: []string{"source: missing"}},
		{name: "no ts", body: `[{"id":"a","source":"s","payload":{}}]`, reasons: []string{"ts: missing"}},
		{name: "payload array", body: `[{"id":"a","source":"s","ts":"t","payload":[]}]`, reasons: []string{"payload: must be a JSON object"}},
		{name: "no payload", body: `[{"id":"a","source":"s","ts":"t"}]`, reasons: []string{"payload: missing"}},
		{name: "nul", body: `[{"id":"a","source":"s","ts":"t","payload":{"x":"\u0000"}}]`, reasons: []string{`\u0000`}},
		{name: "item not object", body: `[1]`, reasons: []string{"item must be a JSON object"}},
		{name: "one bad rejects all", body: "[" + item("a") + `,{"id":"","source":"s","ts":"t","payload":{}}]`, reasons: []string{"id: empty"}},
		// the collector validates transport, not the warehouse schema: a
		// string amount or an unparsable ts reach the lake (and quarantine)
		{name: "schema-bad but transport-ok", body: `[{"id":"a","source":"s","ts":"never","payload":{"amount":"x"}}]`, ids: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items, bad, err := collector.Validate([]byte(tt.body))
			if tt.batchErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.batchErr)
				return
			}
			require.NoError(t, err)
			if tt.reasons != nil {
				assert.Nil(t, items, "nothing accepted from a batch with a bad item")
				require.Len(t, bad, len(tt.reasons))
				for i, r := range tt.reasons {
					assert.Contains(t, bad[i].Reason, r)
				}
				return
			}
			assert.Empty(t, bad)
			var ids []string
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			assert.Equal(t, tt.ids, ids)
		})
	}
}
