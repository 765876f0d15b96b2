package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/firedrill/firedrill/scenarios"
)

// Targets chosen when the fault fires. A drill often means "kill the
// member that is leader now", not a fixed container: which one it is
// changes with every election. Choose wraps that lookup as a target; the
// Injector runs it right before the inject's bracket opens (so the
// lookup's own time is not counted as onset uncertainty), on every inject
// of a fault not already in effect, and the fault's name then says what was
// chosen: "kill(etcd2 = leader, SIGKILL)". Revert acts on the same choice.

// Resolver is implemented by a fault that must settle its target(s) before
// it is injected. The Injector calls Resolve before the bracket of every
// inject of a fault that is not in effect; an error there fails the inject
// with nothing injected. The faults of this package resolve every *Choice
// and *LinkChoice they hold; a custom Fault implements Resolver itself.
type Resolver interface {
	Resolve(ctx context.Context) error
}

// ResolveTimeout bounds one lookup of a Choice.
const ResolveTimeout = 10 * time.Second

// ErrUnresolved is returned by a Choice asked to act before its lookup ran.
var ErrUnresolved = errors.New("target not chosen yet")

// Choice is a container target chosen when the fault fires, by a lookup
// such as "the member that is leader now". It satisfies ContainerTarget,
// NetworkTarget, ResourceTarget, ResourceReader, OOMTarget, DiskTarget,
// Execer, EventReader, ProcessSignaler and TmpfsReader by delegating to
// what the lookup returned (*scenarios.Container satisfies them all); an
// optional interface the chosen target lacks answers as if the Choice did
// not have it either.
type Choice struct{ chosen[ContainerTarget] }

// Choose is a target chosen by find each time a fault on it is injected;
// role names what find looks for ("leader", "a follower") in fault names
// and errors.
func Choose(role string, find func(ctx context.Context) (ContainerTarget, error)) *Choice {
	return &Choice{chosen[ContainerTarget]{role: role, find: find, what: "target"}}
}

// chosen is a target of type T chosen by a lookup: what Choice and
// LinkChoice share.
type chosen[T any] struct {
	role string
	find func(ctx context.Context) (T, error)
	what string // "target" or "link", for errors

	mu  sync.Mutex
	cur T
	ok  bool
}

// Role is what the lookup looks for.
func (c *chosen[T]) Role() string { return c.role }

// Chosen is what the last lookup returned, the zero value (nil) before the
// first.
func (c *chosen[T]) Chosen() T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// String is "<chosen> = <role>" once chosen, "<role>?" before.
func (c *chosen[T]) String() string {
	c.mu.Lock()
	cur, ok := c.cur, c.ok
	c.mu.Unlock()
	if ok {
		return nameOf(cur) + " = " + c.role
	}
	return c.role + "?"
}

// Resolve runs the lookup (at most ResolveTimeout) and keeps its answer.
func (c *chosen[T]) Resolve(ctx context.Context) error {
	if c.find == nil {
		return fmt.Errorf("choice %q: %w: the lookup is nil", c.role, ErrNoTarget)
	}
	ctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
	defer cancel()
	t, err := c.find(ctx)
	if err == nil && isNil(t) {
		err = fmt.Errorf("the lookup returned no %s", c.what)
	}
	if err != nil {
		return fmt.Errorf("choose %s: %w", c.role, err)
	}
	c.mu.Lock()
	c.cur, c.ok = t, true
	c.mu.Unlock()
	return nil
}

// target is the chosen target, or ErrUnresolved before the first lookup.
func (c *chosen[T]) target() (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok {
		var zero T
		return zero, fmt.Errorf("%s: %w (Resolve runs before the inject)", c.role, ErrUnresolved)
	}
	return c.cur, nil
}

// Kill delegates to the chosen target.
func (c *Choice) Kill(ctx context.Context, signal string) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.Kill(ctx, signal)
}

// Stop delegates to the chosen target.
func (c *Choice) Stop(ctx context.Context, timeout time.Duration) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.Stop(ctx, timeout)
}

// Start delegates to the chosen target.
func (c *Choice) Start(ctx context.Context) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.Start(ctx)
}

// Restart delegates to the chosen target.
func (c *Choice) Restart(ctx context.Context, timeout time.Duration) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.Restart(ctx, timeout)
}

// Pause delegates to the chosen target.
func (c *Choice) Pause(ctx context.Context) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.Pause(ctx)
}

// Unpause delegates to the chosen target.
func (c *Choice) Unpause(ctx context.Context) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.Unpause(ctx)
}

// State delegates to the chosen target.
func (c *Choice) State(ctx context.Context) (State, error) {
	t, err := c.target()
	if err != nil {
		return State{}, err
	}
	return t.State(ctx)
}

// WaitReady delegates to the chosen target.
func (c *Choice) WaitReady(ctx context.Context) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.WaitReady(ctx)
}

// chosenAs is the chosen target as an I, or an error naming what it lacks.
func chosenAs[I any](c *Choice, what string) (I, error) {
	var zero I
	t, err := c.target()
	if err != nil {
		return zero, err
	}
	i, ok := t.(I)
	if !ok {
		return zero, fmt.Errorf("%s: %w: %s (%T) does not %s", c.role, ErrInvalid, nameOf(t), t, what)
	}
	return i, nil
}

// Disconnect delegates to the chosen target (a NetworkTarget).
func (c *Choice) Disconnect(ctx context.Context) error {
	t, err := chosenAs[NetworkTarget](c, "leave its network")
	if err != nil {
		return err
	}
	return t.Disconnect(ctx)
}

// Connect delegates to the chosen target (a NetworkTarget).
func (c *Choice) Connect(ctx context.Context) error {
	t, err := chosenAs[NetworkTarget](c, "join its network")
	if err != nil {
		return err
	}
	return t.Connect(ctx)
}

// Update delegates to the chosen target (a ResourceTarget).
func (c *Choice) Update(ctx context.Context, r Resources) error {
	t, err := chosenAs[ResourceTarget](c, "take resource limits")
	if err != nil {
		return err
	}
	return t.Update(ctx, r)
}

// Resources delegates to the chosen target; one that cannot tell its
// limits reports none, as a target without ResourceReader is taken to have.
func (c *Choice) Resources(ctx context.Context) (Resources, error) {
	t, err := c.target()
	if err != nil {
		return Resources{}, err
	}
	if r, ok := t.(ResourceReader); ok {
		return r.Resources(ctx)
	}
	return Resources{}, nil
}

// Exec delegates to the chosen target (an Execer).
func (c *Choice) Exec(ctx context.Context, cmd []string) (int, string, error) {
	t, err := chosenAs[Execer](c, "run commands")
	if err != nil {
		return 0, "", err
	}
	return t.Exec(ctx, cmd)
}

// Events delegates to the chosen target (an EventReader).
func (c *Choice) Events(ctx context.Context, since, until time.Time) ([]Event, error) {
	t, err := chosenAs[EventReader](c, "read daemon events")
	if err != nil {
		return nil, err
	}
	return t.Events(ctx, since, until)
}

// SignalProcess delegates to the chosen target; one that is not a
// ProcessSignaler answers scenarios.ErrNotLocal, so Kill uses the API.
func (c *Choice) SignalProcess(ctx context.Context, signal string) (sent, acked time.Time, err error) {
	t, err := c.target()
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	ps, ok := t.(ProcessSignaler)
	if !ok {
		return time.Time{}, time.Time{}, fmt.Errorf("%s: %w", nameOf(t), scenarios.ErrNotLocal)
	}
	return ps.SignalProcess(ctx, signal)
}

// TmpfsMounts delegates to the chosen target; one that is not a
// TmpfsReader reports none.
func (c *Choice) TmpfsMounts(ctx context.Context) ([]string, error) {
	t, err := c.target()
	if err != nil {
		return nil, err
	}
	if r, ok := t.(TmpfsReader); ok {
		return r.TmpfsMounts(ctx)
	}
	return nil, nil
}

// LinkChoice is a link chosen when the fault fires ("the link into a
// follower"). It satisfies ToxicTarget by delegating to what the lookup
// returned.
type LinkChoice struct{ chosen[ToxicTarget] }

// ChooseLink is a link chosen by find each time a fault on it is injected.
func ChooseLink(role string, find func(ctx context.Context) (ToxicTarget, error)) *LinkChoice {
	return &LinkChoice{chosen[ToxicTarget]{role: role, find: find, what: "link"}}
}

// Enable delegates to the chosen link.
func (c *LinkChoice) Enable(ctx context.Context) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.Enable(ctx)
}

// Disable delegates to the chosen link.
func (c *LinkChoice) Disable(ctx context.Context) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.Disable(ctx)
}

// AddToxic delegates to the chosen link.
func (c *LinkChoice) AddToxic(ctx context.Context, tx toxiproxy.Toxic) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.AddToxic(ctx, tx)
}

// RemoveToxic delegates to the chosen link.
func (c *LinkChoice) RemoveToxic(ctx context.Context, name string) error {
	t, err := c.target()
	if err != nil {
		return err
	}
	return t.RemoveToxic(ctx, name)
}

// chooser is a *Choice or a *LinkChoice.
type chooser interface {
	Resolve(ctx context.Context) error
}

// targeter lists the targets a fault of this package acts on, so the
// Injector can resolve the choices among them.
type targeter interface {
	targets() []any
}

func (f *KillFault) targets() []any      { return []any{f.c} }
func (f *StopFault) targets() []any      { return []any{f.c} }
func (f *RestartFault) targets() []any   { return []any{f.c} }
func (f *PauseFault) targets() []any     { return []any{f.c} }
func (f *CrashLoopFault) targets() []any { return []any{f.c} }
func (f *PartitionFault) targets() []any { return []any{f.c} }
func (f *CPUFault) targets() []any       { return []any{f.c} }
func (f *MemoryFault) targets() []any    { return []any{f.c} }
func (f *OOMFault) targets() []any       { return []any{f.c} }
func (f *DiskFullFault) targets() []any  { return []any{f.c} }
func (f *DownFault) targets() []any      { return []any{f.link} }
func (f *OneWayFault) targets() []any    { return f.t.targets() }
func (f *Toxic[K]) targets() []any       { return []any{f.spec.link} }

func (f *AllFault) targets() []any {
	var out []any
	for _, m := range f.faults {
		if t, ok := m.(targeter); ok {
			out = append(out, t.targets()...)
		}
	}
	return out
}

// resolve settles f's targets before its inject: f's own Resolve if it is
// a Resolver, else every choice among its targets (each once).
func resolve(ctx context.Context, f Fault) error {
	if r, ok := f.(Resolver); ok {
		return r.Resolve(ctx)
	}
	t, ok := f.(targeter)
	if !ok {
		return nil
	}
	seen := map[chooser]bool{}
	for _, tg := range t.targets() {
		ch, ok := tg.(chooser)
		if !ok || isNil(ch) || seen[ch] {
			continue
		}
		seen[ch] = true
		if err := ch.Resolve(ctx); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ ContainerTarget = (*Choice)(nil)
	_ NetworkTarget   = (*Choice)(nil)
	_ ResourceTarget  = (*Choice)(nil)
	_ ResourceReader  = (*Choice)(nil)
	_ OOMTarget       = (*Choice)(nil)
	_ DiskTarget      = (*Choice)(nil)
	_ EventReader     = (*Choice)(nil)
	_ ProcessSignaler = (*Choice)(nil)
	_ TmpfsReader     = (*Choice)(nil)
	_ ToxicTarget     = (*LinkChoice)(nil)
)
