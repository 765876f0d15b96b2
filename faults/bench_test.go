package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

// TestInjectToEffect measures, per fault kind, the time from the inject
// call to the fault being in effect, over 20 injections (p50, p99), side by
// side in the same run with the docker command line (container faults) and
// a toxiproxy HTTP API call made by hand (link faults), and prints the
// ratios. It runs only with FIREDRILL_BENCH=1 (it takes about a minute):
//
//	FIREDRILL_BENCH=1 go test ./faults -run TestInjectToEffect -v
//
// "In effect" is observed from outside where that can be done without
// disturbing the measure, by a probe started with the call: kill until the
// process stops answering on its published port; down until a request
// through the link fails. For toxics, pause and update the
// call's acknowledgement is the effect (toxiproxy links the toxic, the
// freezer is FROZEN and the cgroup written before they answer).
func TestInjectToEffect(t *testing.T) {
	if os.Getenv("FIREDRILL_BENCH") == "" {
		t.Skip("benchmark: set FIREDRILL_BENCH=1 to run")
	}
	tg := startTarget(t)
	requireHealthy(t, tg)
	ctx := context.Background()
	const n = 20
	api, err := tg.r.Toxiproxy.Endpoint(ctx, "8474/tcp")
	require.NoError(t, err)
	proxyURL := "http://" + api + "/proxies/" + tg.link.Proxy.Name
	hc := &http.Client{Timeout: 10 * time.Second}
	post := func(url, body string) {
		req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, "%s %s", url, body)
	}
	del := func(url string) {
		req, _ := http.NewRequestWithContext(ctx, "DELETE", url, nil)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	docker := func(args ...string) {
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		require.NoError(t, err, "docker %v: %s", args, out)
	}
	untilDead := func() {
		for {
			st, err := tg.app.State(ctx)
			require.NoError(t, err)
			if !st.Running {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	untilDirectFails := func(addr string) {
		for {
			if _, _, err := request(addr, "GET", "/", 200*time.Millisecond); err != nil {
				return
			}
		}
	}
	untilLinkFails := func() {
		for {
			if _, _, err := tg.through("GET", "/", 200*time.Millisecond); err != nil {
				return
			}
		}
	}
	restart := func() {
		require.NoError(t, tg.app.Start(ctx))
		require.NoError(t, tg.app.WaitReady(ctx))
	}

	type sample struct{ ours, theirs []time.Duration }
	rows := []struct {
		kind, theirs string
		ours         func() time.Duration
		other        func() time.Duration
	}{
		{
			kind: "latency toxic", theirs: "toxiproxy HTTP POST",
			ours: func() time.Duration {
				f := faults.Latency(tg.link, 100*time.Millisecond)
				d := timed(func() { require.NoError(t, f.Inject(ctx)) })
				require.NoError(t, f.Revert(ctx))
				return d
			},
			other: func() time.Duration {
				d := timed(func() {
					post(proxyURL+"/toxics", `{"name":"byhand","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":100}}`)
				})
				del(proxyURL + "/toxics/byhand")
				return d
			},
		},
		{
			kind: "down (until a request fails)", theirs: "toxiproxy HTTP POST enabled=false",
			ours: func() time.Duration {
				f := faults.Down(tg.link)
				d := effect(func() { require.NoError(t, f.Inject(ctx)) }, untilLinkFails)
				require.NoError(t, f.Revert(ctx))
				return d
			},
			other: func() time.Duration {
				d := effect(func() { post(proxyURL, `{"enabled":false}`) }, untilLinkFails)
				post(proxyURL, `{"enabled":true}`)
				return d
			},
		},
		{
			kind: "pause", theirs: "docker pause",
			ours: func() time.Duration {
				f := faults.Pause(tg.app)
				d := timed(func() { require.NoError(t, f.Inject(ctx)) })
				require.NoError(t, f.Revert(ctx))
				return d
			},
			other: func() time.Duration {
				d := timed(func() { docker("pause", tg.app.ID) })
				docker("unpause", tg.app.ID)
				return d
			},
		},
		{
			kind: "kill (until it stops answering)", theirs: "docker kill",
			ours: func() time.Duration {
				f := faults.Kill(tg.app, "SIGKILL").AllowEmptyTmpfs()
				addr, err := tg.app.Endpoint(ctx, "8080/tcp")
				require.NoError(t, err)
				d := effect(func() { require.NoError(t, f.Inject(ctx)) }, func() { untilDirectFails(addr) })
				untilDead()
				restart()
				return d
			},
			other: func() time.Duration {
				addr, err := tg.app.Endpoint(ctx, "8080/tcp")
				require.NoError(t, err)
				d := effect(func() { docker("kill", tg.app.ID) }, func() { untilDirectFails(addr) })
				untilDead()
				restart()
				return d
			},
		},
		{
			kind: "memory limit", theirs: "docker update --memory",
			ours: func() time.Duration {
				f := faults.Memory(tg.app, 64<<20)
				d := timed(func() { require.NoError(t, f.Inject(ctx)) })
				require.NoError(t, f.Revert(ctx))
				return d
			},
			other: func() time.Duration {
				d := timed(func() { docker("update", "--memory", "64m", "--memory-swap", "64m", tg.app.ID) })
				docker("update", "--memory", "1g", "--memory-swap", "1g", tg.app.ID)
				return d
			},
		},
		{
			kind: "cpu quota", theirs: "docker update --cpus",
			ours: func() time.Duration {
				f := faults.CPU(tg.app, 0.1)
				d := timed(func() { require.NoError(t, f.Inject(ctx)) })
				require.NoError(t, f.Revert(ctx))
				return d
			},
			other: func() time.Duration {
				d := timed(func() { docker("update", "--cpus", "0.1", tg.app.ID) })
				docker("update", "--cpus", "1", tg.app.ID)
				return d
			},
		},
		{
			kind: "partition", theirs: "docker network disconnect",
			ours: func() time.Duration {
				f := faults.Partition(tg.app)
				d := timed(func() { require.NoError(t, f.Inject(ctx)) })
				require.NoError(t, f.Revert(ctx))
				return d
			},
			other: func() time.Duration {
				d := timed(func() { docker("network", "disconnect", "-f", tg.r.NetworkID, tg.app.ID) })
				require.NoError(t, tg.app.Connect(ctx))
				return d
			},
		},
	}

	var report bytes.Buffer
	fmt.Fprintf(&report, "inject-to-effect over %d injections (same run, interleaved)\n", n)
	fmt.Fprintf(&report, "%-30s %9s %9s | %-34s %9s %9s | %7s %7s\n", "fault", "p50", "p99", "equivalent", "p50", "p99", "p50 x", "p99 x")
	for _, row := range rows {
		var s sample
		row.ours() // warm up both paths
		row.other()
		for i := range n { // interleaved, each first in turn, so both see the same machine
			if i%2 == 0 {
				s.ours = append(s.ours, row.ours())
				s.theirs = append(s.theirs, row.other())
			} else {
				s.theirs = append(s.theirs, row.other())
				s.ours = append(s.ours, row.ours())
			}
		}
		o50, o99 := pct(s.ours, 50), pct(s.ours, 99)
		t50, t99 := pct(s.theirs, 50), pct(s.theirs, 99)
		fmt.Fprintf(&report, "%-30s %9s %9s | %-34s %9s %9s | %7.2f %7.2f\n", row.kind, ms2(o50), ms2(o99), row.theirs, ms2(t50), ms2(t99),
			float64(o50)/float64(t50), float64(o99)/float64(t99))
	}
	fmt.Fprintln(&report, "x = faults time / equivalent time (below 1: faults is faster)")
	t.Log("\n" + report.String())
	if path := os.Getenv("FIREDRILL_BENCH_OUT"); path != "" {
		require.NoError(t, os.WriteFile(path, report.Bytes(), 0o644))
	}
	requireHealthy(t, tg)
}

// effect starts call and, at the same time, probe (which returns once the
// fault shows); it returns the time from the start of call to the effect,
// after call has returned too. The call's own return may come later than
// the effect: Docker's kill API with SIGKILL waits for the container's
// cleanup.
func effect(call, probe func()) time.Duration {
	start := time.Now()
	done := make(chan struct{})
	go func() { defer close(done); call() }()
	probe()
	d := time.Since(start)
	<-done
	return d
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}

func ms2(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }
