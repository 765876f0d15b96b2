package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/firedrill/firedrill/faults"
)

// The pipeline's own faults: conditions that come from the data or from a
// deploy rather than from the network or a container. Each satisfies
// faults.Fault and records when it was put in and taken out, so recovery
// steps can aim at exactly the window it covered.

// Window is when a fault was in effect: from its injection being sent to
// its revert being acknowledged (zero Until while it is in effect).
type Window struct {
	mu           sync.Mutex
	since, until time.Time
}

func (w *Window) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.since, w.until = time.Now(), time.Time{}
}

func (w *Window) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.since.IsZero() && w.until.IsZero() {
		w.until = time.Now()
	}
}

// Bounds returns the window; ok is false before the fault was injected.
func (w *Window) Bounds() (since, until time.Time, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.since, w.until, !w.since.IsZero()
}

// PoisonFault makes the ingest workload send poison events.
type PoisonFault struct {
	p     *Pipeline
	every int64
	Window
}

var _ faults.Fault = (*PoisonFault)(nil)

// PoisonTraffic is the poison-batch fault: while it is in effect, every
// n-th event of the Ingest workload carries an amount written as a string,
// which schema version 1 quarantines. The fix is `pipelinectl schema --set
// 2` then `pipelinectl requeue-quarantine`.
func (p *Pipeline) PoisonTraffic(n int) *PoisonFault {
	return &PoisonFault{p: p, every: int64(n)}
}

// Name implements faults.Fault.
func (f *PoisonFault) Name() string { return fmt.Sprintf("poison-traffic(every %d)", f.every) }

// Validate implements faults.Validator.
func (f *PoisonFault) Validate() error {
	if f.p == nil {
		return fmt.Errorf("poison traffic: %w", faults.ErrNoTarget)
	}
	if f.every < 1 {
		return fmt.Errorf("poison traffic every %d events: must be at least 1", f.every)
	}
	return nil
}

// Inject implements faults.Fault.
func (f *PoisonFault) Inject(context.Context) error {
	f.start()
	f.p.poisonEvery.Store(f.every)
	return nil
}

// Revert implements faults.Fault.
func (f *PoisonFault) Revert(context.Context) error {
	f.p.poisonEvery.Store(0)
	f.end()
	return nil
}

// BadDeployFault switches the loader's corrupting setting on.
type BadDeployFault struct {
	p     *Pipeline
	field string
	Window
}

var _ faults.Fault = (*BadDeployFault)(nil)

// BadDeploy is the bad-deploy fault: while it is in effect the loader
// writes field ("amount", "user_id", "ts" or "kind") corrupted into every
// event it loads; reverting rolls the deploy back. The data written in the
// meantime stays wrong until it is backfilled.
func (p *Pipeline) BadDeploy(field string) *BadDeployFault {
	return &BadDeployFault{p: p, field: field}
}

// Name implements faults.Fault.
func (f *BadDeployFault) Name() string { return "bad-deploy(loader corrupts " + f.field + ")" }

// Validate implements faults.Validator.
func (f *BadDeployFault) Validate() error {
	if f.p == nil {
		return fmt.Errorf("bad deploy: %w", faults.ErrNoTarget)
	}
	switch f.field {
	case "amount", "user_id", "ts", "kind":
		return nil
	}
	return fmt.Errorf("bad deploy: unknown field %q (want amount, user_id, ts or kind)", f.field)
}

// Inject implements faults.Fault.
func (f *BadDeployFault) Inject(ctx context.Context) error {
	f.start()
	if err := f.p.SetCorrupt(ctx, f.field); err != nil {
		f.end()
		return err
	}
	return nil
}

// Revert implements faults.Fault.
func (f *BadDeployFault) Revert(ctx context.Context) error {
	if _, _, ok := f.Bounds(); !ok {
		return nil
	}
	if err := f.p.SetCorrupt(ctx, ""); err != nil {
		return err
	}
	f.end()
	return nil
}

// LoseWarehouseFault deletes the warehouse's data.
type LoseWarehouseFault struct {
	p *Pipeline
	Window
}

var _ faults.Fault = (*LoseWarehouseFault)(nil)

// LoseWarehouse is the fault of losing the warehouse's data (a bad
// migration, an operator's mistake): every loaded event and every
// quarantined one is deleted while the loader's checkpoint stays where it
// was, so nothing reloads by itself. The recovery is `pipelinectl wipe
// --yes`, after which the loader replays the lake. Reverting does nothing:
// lost data comes back only through the recovery tooling.
func (p *Pipeline) LoseWarehouse() *LoseWarehouseFault { return &LoseWarehouseFault{p: p} }

// Name implements faults.Fault.
func (f *LoseWarehouseFault) Name() string { return "lose-warehouse(delete events and quarantine)" }

// Validate implements faults.Validator.
func (f *LoseWarehouseFault) Validate() error {
	if f.p == nil {
		return fmt.Errorf("lose warehouse: %w", faults.ErrNoTarget)
	}
	return nil
}

// Inject implements faults.Fault.
func (f *LoseWarehouseFault) Inject(ctx context.Context) error {
	f.start()
	if _, err := f.p.wh.Exec(ctx, `DELETE FROM events; DELETE FROM quarantine`); err != nil {
		return fmt.Errorf("lose warehouse: delete data: %w", err)
	}
	return nil
}

// Revert implements faults.Fault: data loss is not undone by the harness.
func (f *LoseWarehouseFault) Revert(context.Context) error {
	f.end()
	return nil
}
