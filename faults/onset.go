package faults

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Onsetter is implemented by faults that can tell, after Inject returned, when they
// took effect by the target's own record (the Docker daemon's events or state).
type Onsetter interface {
	// Onset narrows call (the inject call's bracket) to the interval known to contain the
	// instant the fault took effect, and names its source.
	Onset(ctx context.Context, call Bracket) (Bracket, string, error)
}

// EventReader is optionally implemented by a ContainerTarget to read the
// Docker daemon's records about the container over a window.
// *scenarios.Container satisfies it.
type EventReader interface {
	Events(ctx context.Context, since, until time.Time) ([]Event, error)
}

// Onset sources of the container faults.
//
// Where the instant lies, by the daemon's own records (measured on Docker
// 20.10, 20 kills, see TestIntegrationKillOnset): the daemon sends the
// signal a few ms after the kill call is sent (the runtime runs `runc
// kill`), records "kill" only after the signal was delivered, and the
// runtime reaps the process (State.FinishedAt) at or just after its death;
// "die" is recorded some 15-25 ms later, and the call returns 100 ms later
// still. The "kill" record is therefore no lower bound: the process is
// often reaped before it. What is known: the process died after the call
// was sent and no later than it was reaped.
const (
	OnsetFinishedAt = "call sent..docker State.FinishedAt"
	OnsetDieEvent   = "call sent..docker events die"
	OnsetPauseEvent = "call sent..docker events pause"
)

var errNoRecord = errors.New("no record of it")

// exitOnset is when c's process died after call.Sent: no later than the
// runtime reaped it (State.FinishedAt), else than the daemon recorded
// "die" (if c is an EventReader).
func exitOnset(ctx context.Context, c ContainerTarget, call Bracket) (Bracket, string, error) {
	st, err := c.State(ctx)
	if err == nil && !st.FinishedAt.IsZero() && !st.FinishedAt.Before(call.Sent) {
		return Bracket{Sent: call.Sent, Acked: st.FinishedAt}, OnsetFinishedAt, nil
	}
	var serr error
	switch {
	case err != nil:
		serr = fmt.Errorf("read state: %w", err)
	case st.FinishedAt.IsZero():
		serr = errors.New("state has no exit time")
	default:
		serr = fmt.Errorf("last exit %v before the call", call.Sent.Sub(st.FinishedAt).Round(time.Microsecond))
	}
	at, eerr := eventAt(ctx, c, call, "die")
	if eerr != nil {
		return call, "", errors.Join(serr, eerr)
	}
	return Bracket{Sent: call.Sent, Acked: at}, OnsetDieEvent, nil
}

// eventAt is the time of the first event action about c within call.
func eventAt(ctx context.Context, c any, call Bracket, action string) (time.Time, error) {
	er, ok := c.(EventReader)
	if !ok {
		return time.Time{}, fmt.Errorf("%s: the target reads no daemon events", action)
	}
	evs, err := er.Events(ctx, call.Sent, call.Acked)
	if err != nil {
		return time.Time{}, fmt.Errorf("read events: %w", err)
	}
	for _, ev := range evs {
		if ev.Action == action && !ev.Time.Before(call.Sent) && !ev.Time.After(call.Acked) {
			return ev.Time, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: %w in %v of events", action, errNoRecord, call.Width().Round(time.Microsecond))
}

var (
	_ Onsetter = (*KillFault)(nil)
	_ Onsetter = (*StopFault)(nil)
	_ Onsetter = (*RestartFault)(nil)
	_ Onsetter = (*CrashLoopFault)(nil)
	_ Onsetter = (*PauseFault)(nil)
)

// Onset is when the process died: after the call was sent, no later than
// the runtime reaped it.
// With a direct signal (ProcessSignaler), it is the kill(2) bracket.
func (f *KillFault) Onset(ctx context.Context, call Bracket) (Bracket, string, error) {
	f.mu.Lock()
	direct := f.direct
	f.mu.Unlock()
	if !direct.Sent.IsZero() {
		return direct, OnsetSignal, nil
	}
	return exitOnset(ctx, f.c, call)
}

// Onset is when the process died (after SIGTERM, or SIGKILL at the timeout).
func (f *StopFault) Onset(ctx context.Context, call Bracket) (Bracket, string, error) {
	return exitOnset(ctx, f.c, call)
}

// Onset is when the old process died.
func (f *RestartFault) Onset(ctx context.Context, call Bracket) (Bracket, string, error) {
	return exitOnset(ctx, f.c, call)
}

// Onset is when the first kill's process died.
func (f *CrashLoopFault) Onset(ctx context.Context, call Bracket) (Bracket, string, error) {
	return exitOnset(ctx, f.c, call)
}

// Onset is when the container was frozen: after the call was sent, no
// later than the daemon recorded "pause" (it does once the freezer holds).
func (f *PauseFault) Onset(ctx context.Context, call Bracket) (Bracket, string, error) {
	at, err := eventAt(ctx, f.c, call, "pause")
	if err != nil {
		return call, "", err
	}
	return Bracket{Sent: call.Sent, Acked: at}, OnsetPauseEvent, nil
}
