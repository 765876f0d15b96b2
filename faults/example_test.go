package faults_test

import (
	"context"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// A latency toxic on the client→server stream of a link.
func ExampleLatency() {
	var link *scenarios.Link // r.MustLink("collector->lake") in a test
	f := faults.Latency(link, 300*time.Millisecond).Jitter(50 * time.Millisecond).Upstream()
	fmt.Println(f.Name())
	// Output: latency(<nil>, upstream, 300ms±50ms)
}

// Schedules compose; their plans are sorted by offset.
func ExampleSequence() {
	var lake *scenarios.Link
	var loader *scenarios.Container
	s := faults.Sequence(
		faults.For(5*time.Second, 10*time.Second, faults.Down(lake)),
		faults.At(2*time.Second, faults.Kill(loader, "SIGKILL")),
	)
	for _, a := range s.Plan() {
		fmt.Println(a)
	}
	// Output:
	// +5s inject down(<nil>)
	// +15s revert down(<nil>)
	// +17s inject kill(<nil>, SIGKILL)
}

// A seeded random nemesis: print the seed; the same seed replays the plan.
func ExampleNemesis() {
	var a, b *scenarios.Container
	pool := faults.Each([]*scenarios.Container{a, b},
		func(c *scenarios.Container) faults.Fault { return faults.Pause(c) },
		func(c *scenarios.Container) faults.Fault { return faults.Kill(c, "SIGKILL") },
	)
	n := faults.Nemesis(42, pool...).Window(10 * time.Second)
	fmt.Println(n)
	fmt.Println(len(n.Plan()) > 0)
	// Output:
	// nemesis(seed=42, 4 faults, window 10s, hold 1s-5s, gap 1s-3s)
	// true
}

// printed is a fault that only says what it does.
type printed string

func (p printed) Name() string { return string(p) }
func (p printed) Inject(context.Context) error {
	fmt.Println("inject", p)
	return nil
}
func (p printed) Revert(context.Context) error {
	fmt.Println("revert", p)
	return nil
}

// How an engine drives a schedule: validate it before anything is
// injected, guard the test (inj.Guard(t)), play the plan, and revert what is
// left at the end.
func ExampleInjector() {
	s := faults.Parallel(
		faults.For(0, 20*time.Millisecond, printed("a")),
		faults.At(10*time.Millisecond, printed("b")), // held until the end
	)
	if err := faults.Validate(s); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	inj := faults.NewInjector()
	err := inj.Play(ctx, s, time.Now(), nil)
	fmt.Println("played:", err)
	fmt.Println("revert all:", inj.RevertAll(ctx))
	fmt.Println("records:", len(inj.Records()))
	// Output:
	// inject a
	// inject b
	// revert a
	// played: <nil>
	// revert b
	// revert all: <nil>
	// records: 4
}
