package schema_test

import (
	"fmt"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/schema"
)

func ExampleApply() {
	r := schema.Row{Seq: 1, EventID: "e1", Source: "web",
		Body: []byte(`{"ts":"2026-01-01T00:00:00Z","payload":{"user_id":"u1","amount":"12.50"}}`)}
	if _, err := schema.Apply(schema.V1, r); err != nil {
		fmt.Println("v1 quarantines it:", err)
	}
	ev, _ := schema.Apply(schema.V2, r)
	fmt.Println("v2 loads it:", ev.UserID, ev.Amount)
	// Output:
	// v1 quarantines it: payload.amount: a string ("12.50"), want a number (accepted from schema version 2)
	// v2 loads it: u1 12.50
}
