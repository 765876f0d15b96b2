package recovery_test

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/recovery"
)

func ExampleSteps() {
	rb := recovery.Steps(
		recovery.Command("sh", "-c", "echo checkpoint ok"),
		recovery.Func("resume loader", func(ctx context.Context) (string, error) {
			return "resumed at offset 42", nil
		}).WithTimeout(10*time.Second),
	)
	results, err := rb.Run(context.Background(), nil)
	for _, r := range results {
		fmt.Printf("%s: %q\n", r.Name, r.Output)
	}
	fmt.Println("error:", err)
	// Output:
	// sh -c echo checkpoint ok: "checkpoint ok\n"
	// resume loader: "resumed at offset 42"
	// error: <nil>
}
