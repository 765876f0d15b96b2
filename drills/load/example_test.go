package load_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/firedrill/firedrill/drills/load"
)

// A workload that warms up at 100 req/s for 2 s, then runs at 500 req/s.
func ExampleSteps() {
	op := func(ctx context.Context, seq uint64) (string, error) { return fmt.Sprint("id-", seq), nil }
	w := load.New(load.Steps(load.Rate(100, 2*time.Second), load.Rate(500, 0)), op,
		load.WithTimeout(time.Second), load.WithName("ingest"))
	fmt.Println(w.Name, w.Validate())
	// Output: ingest <nil>
}

// An HTTP workload whose acknowledged id is the response body.
func ExampleHTTP() {
	w := load.HTTP(load.Constant(1000), load.Target{
		Method: "POST",
		URL:    "http://127.0.0.1:8080/write",
		Body:   func(seq uint64) []byte { return []byte(fmt.Sprintf(`{"id":"ev-%d"}`, seq)) },
		Ack: func(seq uint64, _ *http.Response, body []byte) (string, error) {
			return string(body), nil
		},
	}, load.WithTimeout(500*time.Millisecond))
	fmt.Println(w.Validate())
	// Output: <nil>
}
