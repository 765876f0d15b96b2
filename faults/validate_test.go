package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
	"github.com/firedrill/firedrill/scenarios"
)

// Bad input is refused by Validate, and by Inject before any call reaches
// the target (the mocks have no expectations: any call would fail the test).
func TestValidateRefusesBadInput(t *testing.T) {
	link := newMockToxicTarget(t)
	c := newMockContainerTarget(t)
	nt := newMockNetworkTarget(t)
	rt := newMockResourceTarget(t)
	ot := newMockOOMTarget(t)
	dt := newMockDiskTarget(t)
	var nilLink *scenarios.Link
	var nilContainer *scenarios.Container

	tests := []struct {
		name  string
		fault faults.Fault
		want  error
		msg   string
	}{
		{"latency nil link", faults.Latency(nil, time.Second), faults.ErrNoTarget, "link is nil"},
		{"latency typed nil link", faults.Latency(nilLink, time.Second), faults.ErrNoTarget, "link is nil"},
		{"latency zero", faults.Latency(link, 0), faults.ErrDuration, "latency 0s"},
		{"latency negative", faults.Latency(link, -time.Second), faults.ErrDuration, "latency -1s"},
		{"latency sub-ms", faults.Latency(link, time.Microsecond), faults.ErrDuration, "at least 1ms"},
		{"jitter negative", faults.Latency(link, time.Second).Jitter(-1), faults.ErrInvalid, "negative jitter"},
		{"toxicity zero", faults.Latency(link, time.Second).Toxicity(0), faults.ErrInvalid, "toxicity"},
		{"toxicity above one", faults.Latency(link, time.Second).Toxicity(1.5), faults.ErrInvalid, "toxicity"},
		{"bad direction", faults.Latency(link, time.Second).Direction("sideways"), faults.ErrInvalid, "direction"},
		{"bandwidth negative", faults.Bandwidth(link, -1), faults.ErrInvalid, "negative rate"},
		{"slow_close zero", faults.SlowClose(link, 0), faults.ErrDuration, "delay"},
		{"timeout negative", faults.Timeout(link, -time.Second), faults.ErrDuration, "negative timeout"},
		{"reset_peer negative", faults.ResetPeer(link, -time.Second), faults.ErrDuration, "negative timeout"},
		{"slicer zero size", faults.Slicer(link, 0), faults.ErrInvalid, "average size"},
		{"slicer variation", faults.Slicer(link, 10).Variation(10), faults.ErrInvalid, "variation"},
		{"limit_data negative", faults.LimitData(link, -1), faults.ErrInvalid, "negative byte limit"},
		{"down nil", faults.Down(nil), faults.ErrNoTarget, "link is nil"},
		{"oneway both", faults.OneWay(link, faults.BothWays), faults.ErrInvalid, "upstream or downstream"},
		{"kill nil", faults.Kill(nil, "SIGKILL"), faults.ErrNoTarget, "container is nil"},
		{"kill typed nil", faults.Kill(nilContainer, "SIGKILL"), faults.ErrNoTarget, "container is nil"},
		{"kill bad signal", faults.Kill(c, "SIGNOPE"), faults.ErrInvalid, "SIGNOPE"},
		{"stop zero timeout", faults.Stop(c, 0), faults.ErrDuration, "timeout 0s"},
		{"restart negative timeout", faults.Restart(c, -time.Second), faults.ErrDuration, "timeout"},
		{"pause nil", faults.Pause(nil), faults.ErrNoTarget, "container is nil"},
		{"crashloop zero kills", faults.CrashLoop(c, 0, time.Second), faults.ErrInvalid, "0 kills"},
		{"crashloop zero interval", faults.CrashLoop(c, 3, 0), faults.ErrDuration, "interval"},
		{"partition nil", faults.Partition(nil), faults.ErrNoTarget, "container is nil"},
		{"cpu too small", faults.CPU(rt, 0.001), faults.ErrInvalid, "0.01"},
		{"memory below minimum", faults.Memory(rt, 4<<20), faults.ErrMemoryTooLow, "6 MiB"},
		{"oom below minimum", faults.OOM(ot, 1<<20), faults.ErrMemoryTooLow, "6 MiB"},
		{"diskfull relative", faults.DiskFull(dt, "data"), faults.ErrInvalid, "absolute"},
		{"diskfull root", faults.DiskFull(dt, "/"), faults.ErrInvalid, "not /"},
		{"diskfull no command", faults.DiskFull(dt, "/data").Using(nil, []string{"rm"}), faults.ErrInvalid, "empty fill"},
		{"all empty", faults.All(), faults.ErrInvalid, "no faults"},
		{"all with nil", faults.All(faults.Pause(c), nil), faults.ErrNilFault, "fault 1"},
	}
	_ = nt
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := tt.fault.(faults.Validator)
			require.True(t, ok, "%T must implement Validator", tt.fault)
			err := v.Validate()
			require.Error(t, err)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)

			// Inject refuses too, before touching the target.
			require.ErrorIs(t, tt.fault.Inject(context.Background()), tt.want)
			// And through an Injector nothing is tracked.
			inj := faults.NewInjector()
			_, err = inj.Inject(context.Background(), tt.fault)
			require.ErrorIs(t, err, tt.want)
			assert.Empty(t, inj.Active())
		})
	}
}

func TestValidateAcceptsGoodInput(t *testing.T) {
	link := newMockToxicTarget(t)
	c := newMockContainerTarget(t)
	for _, f := range []faults.Fault{
		faults.Latency(link, 300*time.Millisecond).Jitter(50 * time.Millisecond).Upstream(),
		faults.Down(link),
		faults.Bandwidth(link, 0),
		faults.SlowClose(link, time.Second),
		faults.Timeout(link, 0),
		faults.ResetPeer(link, 0),
		faults.Slicer(link, 16).Variation(4).Delay(time.Millisecond),
		faults.LimitData(link, 0),
		faults.OneWay(link, faults.Upstream),
		faults.Kill(c, ""), faults.Kill(c, "9"), faults.Kill(c, "term"),
		faults.Stop(c, time.Second), faults.Restart(c, time.Second), faults.Pause(c),
		faults.CrashLoop(c, 3, time.Second).Signal("SIGTERM"),
		faults.Memory(newMockResourceTarget(t), faults.MinMemory),
		faults.DiskFull(newMockDiskTarget(t), "/data"),
	} {
		assert.NoError(t, f.(faults.Validator).Validate(), f.Name())
	}
}

func TestNames(t *testing.T) {
	link := faults.ProxyLink(nil)
	assert.Equal(t, "latency(<nil proxy>, upstream, 300ms±50ms)",
		faults.Latency(link, 300*time.Millisecond).Jitter(50*time.Millisecond).Upstream().Name())
	assert.Equal(t, "down(<nil proxy>)", faults.Down(link).Name())
	assert.Equal(t, "timeout(<nil proxy>, both, forever, toxicity=0.5)", faults.Timeout(link, 0).Both().Toxicity(0.5).Name())
	real := &scenarios.Container{Name: "loader"}
	assert.Equal(t, "pause(loader)", faults.Pause(real).Name())
	assert.Equal(t, "memory(loader, 64MiB)", faults.Memory(real, 64<<20).Name())
}

func TestLinkBetween(t *testing.T) {
	_, err := faults.LinkBetween(nil, "a", "b")
	assert.ErrorIs(t, err, faults.ErrNoTarget)
}
