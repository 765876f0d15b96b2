package drills_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/firedrill/firedrill/drills"
	"github.com/firedrill/firedrill/drills/load"
	"github.com/firedrill/firedrill/drills/slo"
	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// The Compose example (scenarios/examples/compose): an orders service and
// its PostgreSQL, described by a plain compose.yaml, drilled through
// scenarios.FromCompose. DATABASE_URL names db:5432, so the link rule
// routes app → db through toxiproxy as the link "app->db"; the published
// port 8080 of app is the Host link "app:8080", which the load goes
// through.

const composeExample = "../scenarios/examples/compose"

// startComposeExample builds the orders binary into the example's build
// context (there is no golang image to build it in: the Dockerfile copies
// it FROM scratch), loads the Compose file and starts the project.
func startComposeExample(t *testing.T, opts ...scenarios.ComposeOption) *scenarios.Running {
	t.Helper()
	scenarios.RequireDocker(t)
	buildOrders(t)
	sys, err := scenarios.FromCompose(filepath.Join(composeExample, "compose.yaml"), opts...)
	require.NoError(t, err)
	run := scenarios.Start(t, sys)
	t.Logf("compose example ready in %s", run.ReadyIn)
	return run
}

// buildOrders builds the example's binary once per test binary.
var buildOrders = func() func(t *testing.T) {
	var once sync.Once
	var err error
	return func(t *testing.T) {
		t.Helper()
		once.Do(func() {
			cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(composeExample, "app", "orders"), "./"+filepath.Join(composeExample, "app"))
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, e := cmd.CombinedOutput(); e != nil {
				err = fmt.Errorf("build the orders binary: %w\n%s", e, out)
			}
		})
		require.NoError(t, err)
	}
}()

// orders is the example's client: a write workload whose acknowledged ids
// are the orders' ids, and an integrity reader that reads each
// acknowledged order back through GET /orders/{id}.
type orders struct {
	base   string
	client *http.Client
	mu     sync.Mutex
	acked  []string
	landed map[string]bool // read back once: an order is never deleted
}

func newOrders(run *scenarios.Running) *orders {
	return &orders{base: "http://" + run.MustLink("app:8080").HostAddr, client: load.NewClient(0), landed: map[string]bool{}}
}

// workload posts one order a request at rate per second.
func (o *orders) workload(rate int) load.Workload {
	return load.New(load.Constant(rate), load.HTTPOp(load.Target{
		Method: http.MethodPost, URL: o.base + "/orders", Client: o.client,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   func(seq uint64) []byte { return fmt.Appendf(nil, `{"item":"drill-%d"}`, seq) },
		Ack: func(_ uint64, _ *http.Response, body []byte) (string, error) {
			var out struct{ ID string }
			if err := json.Unmarshal(body, &out); err != nil || out.ID == "" {
				return "", fmt.Errorf("201 without an order id: %q", body)
			}
			o.mu.Lock()
			o.acked = append(o.acked, out.ID)
			o.mu.Unlock()
			return out.ID, nil
		},
	}), load.WithTimeout(time.Second))
}

// Landed reads every acknowledged order not yet seen back from the
// service, 8 at a time.
func (o *orders) Landed(ctx context.Context) ([]string, error) {
	o.mu.Lock()
	acked := append([]string(nil), o.acked...)
	o.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, id := range acked {
		if o.seen(id) {
			continue
		}
		g.Go(func() error { return o.readBack(gctx, id) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := make([]string, 0, len(o.landed))
	for id := range o.landed {
		ids = append(ids, id)
	}
	return ids, nil
}

// readBack reads order id back: 200 means it landed, 404 not (yet).
func (o *orders) readBack(ctx context.Context, id string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.base+"/orders/"+id, nil)
	if err != nil {
		return err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		o.mu.Lock()
		o.landed[id] = true
		o.mu.Unlock()
		return nil
	case http.StatusNotFound:
		return nil
	default:
		return fmt.Errorf("GET /orders/%s: %s", id, resp.Status)
	}
}

func (o *orders) seen(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.landed[id]
}

// composeDBOutage is the drill: the app → db link is down for 2 s; the
// service answers 503 meanwhile and recovers by itself (its pool
// reconnects). Every acknowledged order must be readable afterwards.
func composeDBOutage(run *scenarios.Running, name string) drills.Drill {
	o := newOrders(run)
	return drills.Drill{
		Name:      name,
		Workload:  o.workload(50),
		Steady:    slo.All(slo.SuccessRatio(0.99), slo.LatencyQuantile(0.99, 500*time.Millisecond)),
		Faults:    faults.For(time.Second, 2*time.Second, faults.Down(run.MustLink("app->db"))),
		Integrity: o,
		Limits:    drills.Limits{CatchUpWithin: 3 * time.Second, LostAfter: 2 * time.Second},
		Budget:    drills.Budget{TTR: 4 * time.Second, Lost: 0},
	}
}

// TestComposeDBOutage drills the example Compose project: a database
// outage that loses no acknowledged order.
func TestComposeDBOutage(t *testing.T) {
	run := startComposeExample(t)
	res := drills.Run(t, composeDBOutage(run, "compose-db-outage"))
	requireNoLoss(t, res)
	require.True(t, res.Measures.TTR.Valid, res.FormatTimeline())
	assert.GreaterOrEqual(t, res.Measures.TTR.Value, 1900*time.Millisecond, "the link was down for 2 s")
	tighter(t, res, drills.Budget{TTR: time.Second}, "ttr")
}

// TestComposeAckBeforeCommit is the same drill on the same project
// with the service's planted defect switched on through the Compose file's
// interpolation (ORDERS_ACK_BEFORE_COMMIT=true): orders acknowledged during
// the outage are never written, and the drill must fail on lost writes.
func TestComposeAckBeforeCommit(t *testing.T) {
	run := startComposeExample(t, scenarios.ComposeEnv("ORDERS_ACK_BEFORE_COMMIT", "true"))
	require.Equal(t, "true", run.System.Containers[0].Env["ORDERS_ACK_BEFORE_COMMIT"], "containers sorted: app first")
	d := composeDBOutage(run, "compose-ack-before-commit")
	d.Logf = t.Logf
	res, err := drills.Execute(t.Context(), d)
	require.NoError(t, err)
	require.True(t, res.Integrity.Checked, res.FormatTimeline())
	assert.False(t, res.Passed(), "acknowledged orders were lost: the drill must fail\n%s", res.FormatTimeline())
	assert.Positive(t, res.Integrity.Lost, "orders acknowledged during the outage are lost\n%s", res.FormatTimeline())
	var missed []string
	for _, v := range res.Missed() {
		missed = append(missed, v.Name)
	}
	assert.Contains(t, missed, "lost", "missed: %s", strings.Join(missed, ", "))
}

// TestComposeAppKill: the app container is SIGKILLed and started
// again 2 s later (Kill's revert); orders committed before the kill are all
// there afterwards.
func TestComposeAppKill(t *testing.T) {
	run := startComposeExample(t)
	d := composeDBOutage(run, "compose-app-kill")
	d.Faults = faults.For(time.Second, 2*time.Second, faults.Kill(run.MustContainer("app"), "SIGKILL"))
	// Down 2 s, then the process starts, connects and listens again.
	d.Budget.TTR = 6 * time.Second
	res := drills.Run(t, d)
	requireNoLoss(t, res)
	require.True(t, res.Measures.TTR.Valid, res.FormatTimeline())
	assert.GreaterOrEqual(t, res.Measures.TTR.Value, 1900*time.Millisecond, "the app was down for 2 s")
	tighter(t, res, drills.Budget{TTR: time.Second}, "ttr")
}
