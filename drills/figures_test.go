package drills_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
)

// TestFigureEngineCost measures the engine's own cost (load generator,
// HTTP client, buckets, engine loop) while it drives the stub at 2000 req/s
// for about 60 s: CPU time of this process and its peak RSS. The stub runs
// in a container, so its CPU is not counted. Set FIREDRILL_ENGINE_COST=1 and
// run it alone:
//
//	FIREDRILL_ENGINE_COST=1 go test -run TestFigureEngineCost -v ./drills/
func TestFigureEngineCost(t *testing.T) {
	if os.Getenv("FIREDRILL_ENGINE_COST") == "" {
		t.Skip("figure: set FIREDRILL_ENGINE_COST=1")
	}
	link := stub(t)
	var before syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &before))
	start := time.Now()
	res := drills.Run(t, drills.Drill{
		Name: "engine-cost-2000rps-60s",
		Workload: load.HTTP(load.Constant(2000), load.Target{URL: "http://" + link.HostAddr + "/"},
			load.WithTimeout(500*time.Millisecond)),
		Steady: slo.All(slo.SuccessRatio(0.99), slo.LatencyQuantile(0.99, 200*time.Millisecond)),
		Faults: faults.For(55*time.Second, time.Second, faults.Down(link)),
		Limits: drills.Limits{SteadyWithin: 20 * time.Second},
	})
	wall := time.Since(start)
	var after syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &after))
	cpu := tv(after.Utime) - tv(before.Utime) + tv(after.Stime) - tv(before.Stime)
	hwm := vmHWM(t)
	msg := fmt.Sprintf("engine cost at 2000 req/s: %d requests over %s wall (load ran %s): CPU %s (%.0f%% of one core), peak RSS %.1f MiB, late starts %d",
		res.Measures.Requests, wall.Round(time.Millisecond), res.Timeline.End.Sub(res.Timeline.LoadStarted).Round(time.Millisecond),
		cpu.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds(), float64(hwm)/(1<<20), res.Measures.LateStarts)
	t.Log(msg)
	fmt.Println(msg)
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// vmHWM reads the peak resident set size of this process.
func vmHWM(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
