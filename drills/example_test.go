package drills_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
)

// outageFault makes the in-process service of the example refuse requests.
type outageFault struct{ down *atomic.Bool }

func (f outageFault) Name() string                     { return "outage(service)" }
func (f outageFault) Inject(ctx context.Context) error { f.down.Store(true); return nil }
func (f outageFault) Revert(ctx context.Context) error { f.down.Store(false); return nil }

// Execute a drill without a testing.T. In a test use drills.Run(t, d),
// which fails the test with the timeline when a limit is missed. Real drills
// use a scenario's workload and faults.Down(link) and friends; this one runs
// in-process, on 10 ms buckets, in well under a second.
func ExampleExecute() {
	var down atomic.Bool
	service := func(ctx context.Context, seq uint64) (string, error) {
		if down.Load() {
			return "", errors.New("connection refused")
		}
		return "", nil
	}
	res, err := drills.Execute(context.Background(), drills.Drill{
		Name:       "example-outage",
		Workload:   load.New(load.Constant(1000), service, load.WithTimeout(100*time.Millisecond)),
		Steady:     slo.SuccessRatio(0.99),
		Faults:     faults.For(50*time.Millisecond, 200*time.Millisecond, outageFault{&down}),
		Budget:     drills.Budget{TTR: 2 * time.Second},
		Bucket:     10 * time.Millisecond,
		HealthyRun: 5,
	})
	if err != nil {
		fmt.Println("could not evaluate:", err)
		return
	}
	ttr := res.Measures.TTR
	fmt.Println("passed:", res.Passed())
	fmt.Println("TTR within 200ms ± resolution:", (ttr.Value-200*time.Millisecond).Abs() <= ttr.Resolution()+res.Load.MaxLate+5*time.Millisecond)
	fmt.Println("episodes:", len(res.Episodes))
	// Output:
	// passed: true
	// TTR within 200ms ± resolution: true
	// episodes: 1
}
