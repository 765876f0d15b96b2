package faults_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

// stuck is a fault whose revert always fails, counting its attempts.
type stuck struct {
	reverts atomic.Int32
	err     error
}

func (s *stuck) Name() string                 { return "stuck(app)" }
func (s *stuck) Inject(context.Context) error { return nil }
func (s *stuck) Revert(context.Context) error { s.reverts.Add(1); return s.err }
func (s *stuck) Fix() string                  { return "restart app by hand" }

var _ faults.Fixer = (*stuck)(nil)

// A revert that fails is attempted once across the engine's several
// RevertAll calls (its own defer, then t.Cleanup) and reported once.
func TestRevertFailureIsAttemptedAndReportedOnce(t *testing.T) {
	cause := errors.New("container exited with code 1 before it was ready")
	f := &stuck{err: cause}
	ok, log := newRecorders("ok")
	inj := faults.NewInjector()
	_, err := inj.Inject(ctx, f)
	require.NoError(t, err)
	_, err = inj.Inject(ctx, ok[0])
	require.NoError(t, err)

	err = inj.RevertAll(ctx)
	require.Error(t, err)
	require.ErrorIs(t, err, cause)
	var re faults.RevertError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "stuck(app)", re.Fault)
	assert.Equal(t, "restart app by hand", re.Fix, "a Fixer says its own fix")
	assert.Equal(t, "revert stuck(app): "+cause.Error()+"; fix: restart app by hand", re.Error())

	assert.NoError(t, inj.RevertAll(ctx), "second call: nothing new failed")
	assert.NoError(t, inj.RevertAll(ctx), "third call")
	assert.EqualValues(t, 1, f.reverts.Load(), "the failed revert is not retried")
	assert.Equal(t, []string{"inject ok", "revert ok"}, *log)

	failed := inj.Failed()
	require.Len(t, failed, 1, "listed once")
	assert.Equal(t, "stuck(app)", failed[0].Fault)
	require.ErrorIs(t, failed[0], cause)
	assert.Empty(t, inj.Active())
	var n int
	for _, r := range inj.Records() {
		if r.Action.Revert && r.Fault == "stuck(app)" {
			n++
			require.Error(t, r.Err)
		}
	}
	assert.Equal(t, 1, n, "one record of the failed revert")
}

// A revert cut short by its context is no verdict on the fault: the next
// RevertAll tries again.
func TestRevertCutShortByContextIsRetried(t *testing.T) {
	f := &stuck{}
	inj := faults.NewInjector()
	_, err := inj.Inject(ctx, f)
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	f.err = context.Canceled
	require.ErrorIs(t, inj.RevertAll(cctx), context.Canceled)
	assert.Empty(t, inj.Failed())
	assert.Len(t, inj.Active(), 1, "still in effect")
	f.err = nil
	require.NoError(t, inj.RevertAll(ctx))
	assert.EqualValues(t, 2, f.reverts.Load())
	assert.Empty(t, inj.Active())
}

func TestFixOfEachKind(t *testing.T) {
	c := newMockContainerTarget(t)
	link := newMockToxicTarget(t)
	res := newMockResourceTarget(t)
	for _, tt := range []struct {
		f    faults.Fault
		want string
	}{
		{faults.Kill(c, ""), "the container did not come back: read its logs (docker logs "},
		{faults.Stop(c, time.Second), "start or remove it by hand"},
		{faults.Restart(c, time.Second), "start or remove it by hand"},
		{faults.CrashLoop(c, 3, time.Second), "start or remove it by hand"},
		{faults.Pause(c), "docker unpause"},
		{faults.Latency(link, time.Second), "the toxic stays on the proxy until the system is torn down; `make wipe` removes it"},
		{faults.OneWay(link, faults.Upstream), "the toxic stays on the proxy"},
		{faults.Down(link), "proxy stays disabled"},
		{faults.CPU(res, 0.5), "the limit stays on the container"},
		{faults.Memory(res, 64<<20), "the limit stays on the container"},
		{named("custom"), "undo it by hand"},
	} {
		fix := faults.FixOf(tt.f)
		assert.Contains(t, fix, tt.want, tt.f.Name())
		assert.Contains(t, fix, "make wipe", tt.f.Name())
		assert.NotContains(t, fix, "\n", "one line")
	}
}

// onsetFault is a fault that narrows its onset as told.
type onsetFault struct {
	named
	onset func(call faults.Bracket) (faults.Bracket, string, error)
}

func (f onsetFault) Onset(_ context.Context, call faults.Bracket) (faults.Bracket, string, error) {
	return f.onset(call)
}

func TestInjectorOnset(t *testing.T) {
	boom := errors.New("daemon gone")
	quarter := func(call faults.Bracket) time.Duration { return call.Width() / 4 }
	for _, tt := range []struct {
		name   string
		onset  func(call faults.Bracket) (faults.Bracket, string, error)
		want   func(call faults.Bracket) faults.Bracket
		source string
	}{
		{"narrowed", func(c faults.Bracket) (faults.Bracket, string, error) {
			return faults.Bracket{Sent: c.Sent.Add(quarter(c)), Acked: c.Acked.Add(-quarter(c))}, "docker events die", nil
		}, func(c faults.Bracket) faults.Bracket {
			return faults.Bracket{Sent: c.Sent.Add(quarter(c)), Acked: c.Acked.Add(-quarter(c))}
		}, "docker events die"},
		{"never wider than the call", func(c faults.Bracket) (faults.Bracket, string, error) {
			return faults.Bracket{Sent: c.Sent.Add(-time.Second), Acked: c.Acked.Add(time.Second)}, "wide", nil
		}, func(c faults.Bracket) faults.Bracket { return c }, "wide"},
		{"error keeps the call", func(faults.Bracket) (faults.Bracket, string, error) {
			return faults.Bracket{}, "", boom
		}, func(c faults.Bracket) faults.Bracket { return c }, "inject call (onset from the target: daemon gone)"},
		{"outside the call keeps the call", func(c faults.Bracket) (faults.Bracket, string, error) {
			return faults.Bracket{Sent: c.Acked.Add(time.Second), Acked: c.Acked.Add(2 * time.Second)}, "late", nil
		}, func(c faults.Bracket) faults.Bracket { return c }, "inject call (late is outside the call"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inj := faults.NewInjector()
			r := inj.Do(ctx, faults.Action{Fault: onsetFault{named: named(tt.name), onset: tt.onset}})
			require.NoError(t, r.Err)
			assert.Equal(t, tt.want(r.Bracket), r.Onset)
			assert.True(t, strings.HasPrefix(r.OnsetSource, tt.source), r.OnsetSource)
			assert.False(t, r.Onset.Sent.Before(r.Bracket.Sent))
			assert.False(t, r.Onset.Acked.After(r.Bracket.Acked))
		})
	}
	t.Run("plain fault", func(t *testing.T) {
		r := faults.NewInjector().Do(ctx, faults.Action{Fault: named("plain")})
		assert.Equal(t, r.Bracket, r.Onset)
		assert.Equal(t, faults.OnsetInjectCall, r.OnsetSource)
	})
}

// eventTarget is a container target that also reads daemon events.
type eventTarget struct {
	*mockContainerTarget
	events []faults.Event
	err    error
}

func (e eventTarget) Events(context.Context, time.Time, time.Time) ([]faults.Event, error) {
	return e.events, e.err
}

var _ faults.EventReader = eventTarget{}

func TestContainerOnsets(t *testing.T) {
	sent := time.Now()
	call := faults.Bracket{Sent: sent, Acked: sent.Add(120 * time.Millisecond)}
	died := sent.Add(9 * time.Millisecond)
	for _, tt := range []struct {
		name    string
		state   faults.State
		events  []faults.Event
		want    faults.Bracket
		source  string
		wantErr string
	}{
		{name: "reaped", state: faults.State{Status: "exited", FinishedAt: died},
			want: faults.Bracket{Sent: sent, Acked: died}, source: faults.OnsetFinishedAt},
		{name: "exit time is an earlier exit: die event", state: faults.State{Status: "exited", FinishedAt: sent.Add(-time.Minute)},
			events: []faults.Event{{Action: "kill", Time: sent.Add(10 * time.Millisecond)}, {Action: "die", Time: sent.Add(30 * time.Millisecond)}},
			want:   faults.Bracket{Sent: sent, Acked: sent.Add(30 * time.Millisecond)}, source: faults.OnsetDieEvent},
		{name: "no record at all", state: faults.State{Status: "exited"},
			events: []faults.Event{{Action: "kill", Time: sent.Add(10 * time.Millisecond)}}, wantErr: "die: no record of it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newMockContainerTarget(t)
			c.EXPECT().State(mock.Anything).Return(tt.state, nil)
			f := faults.Kill(eventTarget{mockContainerTarget: c, events: tt.events}, "")
			b, src, err := f.Onset(ctx, call)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, b)
			assert.Equal(t, tt.source, src)
		})
	}
	t.Run("pause", func(t *testing.T) {
		c := newMockContainerTarget(t)
		frozen := sent.Add(40 * time.Millisecond)
		f := faults.Pause(eventTarget{mockContainerTarget: c, events: []faults.Event{{Action: "pause", Time: frozen}}})
		b, src, err := f.Onset(ctx, call)
		require.NoError(t, err)
		assert.Equal(t, faults.Bracket{Sent: sent, Acked: frozen}, b)
		assert.Equal(t, faults.OnsetPauseEvent, src)
	})
	t.Run("a target without events", func(t *testing.T) {
		c := newMockContainerTarget(t)
		_, _, err := faults.Pause(c).Onset(ctx, call)
		require.ErrorContains(t, err, "reads no daemon events")
	})
}

func TestSeededComposites(t *testing.T) {
	a, b := named("a"), named("b")
	nem := faults.Nemesis(42, a, b).Window(5 * time.Second)
	for _, tt := range []struct {
		name string
		s    faults.Schedule
	}{
		{"nemesis", nem},
		{"after", faults.After(time.Second, nem)},
		{"sequence", faults.Sequence(faults.For(0, time.Second, a), nem)},
		{"parallel", faults.Parallel(faults.At(0, a), faults.After(time.Second, nem))},
		{"first one found", faults.Sequence(nem, faults.Nemesis(7, b))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := tt.s.(faults.Seeded)
			require.True(t, ok, "%T exposes the seed", tt.s)
			assert.EqualValues(t, 42, s.Seed())
			require.NoError(t, faults.Validate(tt.s))
		})
	}
	_, ok := faults.Sequence(faults.At(0, a), faults.For(0, time.Second, b)).(faults.Seeded)
	assert.False(t, ok, "no nemesis, no seed")
}

func TestLastActionAt(t *testing.T) {
	c := newMockContainerTarget(t)
	loop := func() *faults.CrashLoopFault { return faults.CrashLoop(c, 4, 500*time.Millisecond) }
	assert.Equal(t, 1500*time.Millisecond, loop().Lasts(), "(n-1) intervals")
	for _, tt := range []struct {
		name string
		s    faults.Schedule
		want time.Duration
	}{
		{"nil", nil, 0},
		{"for", faults.For(time.Second, 2*time.Second, named("a")), 3 * time.Second},
		{"crash loop held", faults.At(time.Second, loop()), 2500 * time.Millisecond},
		{"crash loop reverted sooner", faults.For(time.Second, 200*time.Millisecond, loop()), 1200 * time.Millisecond},
		{"crash loop reverted later", faults.For(time.Second, 5*time.Second, loop()), 6 * time.Second},
		{"in a sequence", faults.Sequence(faults.At(time.Second, loop()), faults.At(100*time.Millisecond, named("b"))), 2500 * time.Millisecond},
		{"inside all", faults.At(0, faults.All(named("x"), loop())), 1500 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, faults.LastActionAt(tt.s))
		})
	}
}
