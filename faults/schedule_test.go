package faults_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

// named is a do-nothing fault for plans.
type named string

func (n named) Name() string                 { return string(n) }
func (n named) Inject(context.Context) error { return nil }
func (n named) Revert(context.Context) error { return nil }

type step struct {
	at     time.Duration
	name   string
	revert bool
}

func steps(s faults.Schedule) []step {
	var out []step
	for _, a := range s.Plan() {
		out = append(out, step{a.At, a.Fault.Name(), a.Revert})
	}
	return out
}

const ms = time.Millisecond

func TestSchedulePlans(t *testing.T) {
	a, b, c := named("a"), named("b"), named("c")
	tests := []struct {
		name string
		s    faults.Schedule
		want []step
	}{
		{"at", faults.At(5*time.Second, a), []step{{5 * time.Second, "a", false}}},
		{"for", faults.For(time.Second, 3*time.Second, a), []step{{time.Second, "a", false}, {4 * time.Second, "a", true}}},
		{"every", faults.Every(100*ms, 40*ms, 3, a), []step{
			{0, "a", false}, {40 * ms, "a", true}, {100 * ms, "a", false}, {140 * ms, "a", true}, {200 * ms, "a", false}, {240 * ms, "a", true}}},
		{"every back to back: revert before inject", faults.Every(100*ms, 100*ms, 2, a), []step{
			{0, "a", false}, {100 * ms, "a", true}, {100 * ms, "a", false}, {200 * ms, "a", true}}},
		{"after", faults.After(time.Second, faults.For(0, 10*ms, a)), []step{{time.Second, "a", false}, {time.Second + 10*ms, "a", true}}},
		{"sequence", faults.Sequence(faults.For(10*ms, 20*ms, a), faults.For(5*ms, 5*ms, b), faults.At(0, c)), []step{
			{10 * ms, "a", false}, {30 * ms, "a", true}, {35 * ms, "b", false}, {40 * ms, "b", true}, {40 * ms, "c", false}}},
		{"parallel sorted", faults.Parallel(faults.For(30*ms, 10*ms, a), faults.For(10*ms, 50*ms, b), faults.At(35*ms, c)), []step{
			{10 * ms, "b", false}, {30 * ms, "a", false}, {35 * ms, "c", false}, {40 * ms, "a", true}, {60 * ms, "b", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, faults.Validate(tt.s))
			assert.Equal(t, tt.want, steps(tt.s))
		})
	}
}

func TestScheduleValidation(t *testing.T) {
	a := named("a")
	tests := []struct {
		name string
		s    faults.Schedule
		want error
		msg  string
	}{
		{"nil schedule", nil, faults.ErrInvalid, "nil schedule"},
		{"at negative", faults.At(-time.Second, a), faults.ErrDuration, "negative offset"},
		{"for zero", faults.For(0, 0, a), faults.ErrDuration, "duration 0s"},
		{"for negative", faults.For(0, -time.Second, a), faults.ErrDuration, "duration -1s"},
		{"every zero interval", faults.Every(0, time.Second, 2, a), faults.ErrDuration, "interval"},
		{"every dur > interval", faults.Every(time.Second, 2*time.Second, 2, a), faults.ErrInvalid, "longer than the interval"},
		{"every zero times", faults.Every(time.Second, time.Second, 0, a), faults.ErrInvalid, "0 repetitions"},
		{"nil fault", faults.At(0, nil), faults.ErrNilFault, "nil fault"},
		{"bad fault", faults.For(0, time.Second, faults.Latency(nil, time.Second)), faults.ErrNoTarget, "link is nil"},
		{"bad inside sequence", faults.Sequence(faults.At(0, a), faults.For(0, 0, named("b"))), faults.ErrDuration, "duration 0s"},
		{"bad inside parallel", faults.Parallel(nil), faults.ErrInvalid, "nil schedule"},
		{"overlap of one fault", faults.Parallel(faults.For(0, time.Second, a), faults.For(500*ms, time.Second, a)), faults.ErrInvalid, "already in effect"},
		{"empty nemesis", faults.Nemesis(1), faults.ErrInvalid, "empty fault pool"},
		{"nemesis bad hold", faults.Nemesis(1, a).Hold(0, time.Second), faults.ErrDuration, "hold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := faults.Validate(tt.s)
			require.Error(t, err)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestNemesisIsDeterministic(t *testing.T) {
	pool := []faults.Fault{named("kill loader"), named("down lake"), named("pause collector"), named("latency warehouse")}
	n := faults.Nemesis(42, pool...).Window(60*time.Second).Hold(500*ms, 4*time.Second).Gap(0, 2*time.Second)
	require.NoError(t, faults.Validate(n))
	p1, p2 := steps(n), steps(faults.Nemesis(42, pool...).Window(60*time.Second).Hold(500*ms, 4*time.Second).Gap(0, 2*time.Second))
	require.NotEmpty(t, p1)
	assert.Equal(t, p1, p2, "same seed, same plan")
	assert.NotEqual(t, p1, steps(faults.Nemesis(43, pool...).Window(60*time.Second).Hold(500*ms, 4*time.Second).Gap(0, 2*time.Second)))
	assert.Equal(t, uint64(42), n.Seed())
	assert.Contains(t, n.String(), "seed=42")

	// One fault at a time, each held within bounds, all inside the window,
	// and more than one kind drawn.
	kinds := map[string]bool{}
	for i := 0; i < len(p1); i += 2 {
		in, out := p1[i], p1[i+1]
		require.False(t, in.revert)
		require.True(t, out.revert)
		require.Equal(t, in.name, out.name)
		kinds[in.name] = true
		hold := out.at - in.at
		assert.True(t, hold > 0 && hold <= 4*time.Second, "hold %v", hold)
		assert.LessOrEqual(t, out.at, 60*time.Second)
		if i > 0 {
			assert.GreaterOrEqual(t, in.at, p1[i-1].at)
		}
	}
	assert.Greater(t, len(kinds), 1)

	random := faults.Nemesis(0, pool...)
	assert.NotZero(t, random.Seed())
	assert.Equal(t, steps(random), steps(faults.Nemesis(random.Seed(), pool...)), "a printed seed replays")
}

// recorder is a fault that logs calls, optionally failing.
type recorder struct {
	name       string
	log        *[]string
	mu         *sync.Mutex
	injectErr  error
	revertErrs []error // returned by successive Revert calls
}

func (r *recorder) Name() string { return r.name }
func (r *recorder) Inject(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.log = append(*r.log, "inject "+r.name)
	return r.injectErr
}
func (r *recorder) Revert(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.log = append(*r.log, "revert "+r.name)
	if len(r.revertErrs) > 0 {
		err := r.revertErrs[0]
		r.revertErrs = r.revertErrs[1:]
		return err
	}
	return nil
}

func newRecorders(names ...string) ([]*recorder, *[]string) {
	log := &[]string{}
	mu := &sync.Mutex{}
	var out []*recorder
	for _, n := range names {
		out = append(out, &recorder{name: n, log: log, mu: mu})
	}
	return out, log
}

func TestInjectorRevertAll(t *testing.T) {
	rs, log := newRecorders("a", "b", "c")
	boom := errors.New("daemon unreachable")
	rs[1].revertErrs = []error{boom}
	inj := faults.NewInjector()
	for _, r := range rs {
		br, err := inj.Inject(ctx, r)
		require.NoError(t, err)
		assert.False(t, br.Sent.IsZero())
		assert.GreaterOrEqual(t, br.Width(), time.Duration(0))
	}
	assert.Len(t, inj.Active(), 3)

	err := inj.RevertAll(ctx)
	require.ErrorIs(t, err, boom)
	assert.Equal(t, []string{"inject a", "inject b", "inject c", "revert c", "revert b", "revert a"}, *log, "reverse order")
	assert.Empty(t, inj.Active(), "the failed one is no longer in effect as far as RevertAll goes")
	require.Len(t, inj.Failed(), 1)
	assert.Equal(t, "b", inj.Failed()[0].Fault)

	require.NoError(t, inj.RevertAll(ctx), "a failed revert is reported once")
	assert.Len(t, *log, 6, "and not retried")

	recs := inj.Records()
	require.Len(t, recs, 6)
	assert.True(t, recs[3].Cleanup)
	assert.Equal(t, "c", recs[3].Fault)
	assert.Equal(t, recs[3].Bracket, recs[3].Onset, "a revert's onset is its bracket")
	assert.Equal(t, faults.OnsetRevertCall, recs[3].OnsetSource)
}

func TestInjectorRollsBackFailedInjection(t *testing.T) {
	rs, log := newRecorders("a")
	rs[0].injectErr = errors.New("half done")
	inj := faults.NewInjector()
	_, err := inj.Inject(ctx, rs[0])
	require.ErrorContains(t, err, "half done")
	assert.Equal(t, []string{"inject a", "revert a"}, *log)
	assert.Empty(t, inj.Active())

	// If the rollback fails too, the fault is listed as failed, once.
	rs, log = newRecorders("b")
	rs[0].injectErr = errors.New("half done")
	rs[0].revertErrs = []error{errors.New("still broken")}
	_, err = inj.Inject(ctx, rs[0])
	require.ErrorContains(t, err, "still broken")
	assert.Empty(t, inj.Active())
	require.Len(t, inj.Failed(), 1)
	require.NoError(t, inj.RevertAll(ctx))
	assert.Equal(t, []string{"inject b", "revert b"}, *log)

	// A deliberate revert retries it; success takes it off the list.
	_, err = inj.Revert(ctx, rs[0])
	require.NoError(t, err)
	assert.Empty(t, inj.Failed())
}

// A composite fault whose second member fails is rolled back, member by
// member, before the error comes back.
func TestAllRollsBackPartialInjection(t *testing.T) {
	rs, log := newRecorders("a", "b", "c")
	rs[2].injectErr = errors.New("no")
	f := faults.All(rs[0], rs[1], rs[2])
	inj := faults.NewInjector()
	_, err := inj.Inject(ctx, f)
	require.ErrorContains(t, err, "no")
	assert.Equal(t, []string{"inject a", "inject b", "inject c", "revert c", "revert b", "revert a"}, *log)
	assert.Empty(t, inj.Active())
	require.NoError(t, inj.RevertAll(ctx))
	assert.Len(t, *log, 6, "nothing left to revert")
}

// The same with real toxics on a mock link: the second toxic fails.
func TestAllOfToxicsRollsBack(t *testing.T) {
	link := newMockToxicTarget(t)
	link.EXPECT().AddToxic(mock.Anything, mock.Anything).Return(nil).Once()
	link.EXPECT().AddToxic(mock.Anything, mock.Anything).Return(errors.New("HTTP 409: toxic already exists")).Once()
	link.EXPECT().RemoveToxic(mock.Anything, mock.Anything).Return(nil).Once()
	inj := faults.NewInjector()
	_, err := inj.Inject(ctx, faults.All(faults.Latency(link, time.Second), faults.Bandwidth(link, 10)))
	require.ErrorContains(t, err, "toxic already exists")
	assert.Empty(t, inj.Active())
}

func TestInjectorPlay(t *testing.T) {
	rs, log := newRecorders("a", "b")
	s := faults.Parallel(faults.For(0, 20*ms, rs[0]), faults.At(10*ms, rs[1]))
	inj := faults.NewInjector()
	start := time.Now()
	var recs []faults.Record
	require.NoError(t, inj.Play(ctx, s, start, func(r faults.Record) { recs = append(recs, r) }))
	assert.Equal(t, []string{"inject a", "inject b", "revert a"}, *log)
	require.Len(t, recs, 3)
	for _, r := range recs {
		assert.GreaterOrEqual(t, r.Bracket.Sent.Sub(start), r.Action.At, "not early: %v", r.Action)
	}
	assert.Equal(t, []faults.Fault{rs[1]}, inj.Active(), "held until the end")
	require.NoError(t, inj.RevertAll(ctx))

	// An invalid schedule injects nothing.
	*log = nil
	err := inj.Play(ctx, faults.Sequence(faults.At(0, rs[0]), faults.For(0, 0, rs[1])), time.Now(), nil)
	require.ErrorIs(t, err, faults.ErrDuration)
	assert.Empty(t, *log)

	// A cancelled context stops it.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, inj.Play(cctx, faults.At(time.Hour, rs[0]), time.Now(), nil), context.Canceled)
}

func TestActionString(t *testing.T) {
	assert.Equal(t, "+1.5s revert a", faults.Action{At: 1500 * ms, Fault: named("a"), Revert: true}.String())
}
