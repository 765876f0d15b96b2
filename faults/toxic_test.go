package faults_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

var ctx = context.Background()

func TestToxicAttributes(t *testing.T) {
	type L = faults.ToxicTarget
	tests := []struct {
		build  func(L) faults.Fault
		kind   string
		stream string
		attrs  toxiproxy.Attributes
	}{
		{func(l L) faults.Fault { return faults.Latency(l, 300*time.Millisecond).Jitter(20 * time.Millisecond) }, "latency", "downstream",
			toxiproxy.Attributes{"latency": int64(300), "jitter": int64(20)}},
		{func(l L) faults.Fault { return faults.Bandwidth(l, 64).Upstream() }, "bandwidth", "upstream", toxiproxy.Attributes{"rate": int64(64)}},
		{func(l L) faults.Fault { return faults.SlowClose(l, 2*time.Second) }, "slow_close", "downstream", toxiproxy.Attributes{"delay": int64(2000)}},
		{func(l L) faults.Fault { return faults.Timeout(l, 0) }, "timeout", "downstream", toxiproxy.Attributes{"timeout": int64(0)}},
		{func(l L) faults.Fault { return faults.ResetPeer(l, 50*time.Millisecond) }, "reset_peer", "downstream", toxiproxy.Attributes{"timeout": int64(50)}},
		{func(l L) faults.Fault { return faults.Slicer(l, 100).Variation(10).Delay(5 * time.Millisecond) }, "slicer", "downstream",
			toxiproxy.Attributes{"average_size": 100, "size_variation": 10, "delay": int64(5000)}},
		{func(l L) faults.Fault { return faults.LimitData(l, 1024) }, "limit_data", "downstream", toxiproxy.Attributes{"bytes": int64(1024)}},
		{func(l L) faults.Fault { return faults.OneWay(l, faults.Upstream) }, "timeout", "upstream", toxiproxy.Attributes{"timeout": int64(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.stream, func(t *testing.T) {
			link := newMockToxicTarget(t)
			f := tt.build(link)
			var added toxiproxy.Toxic
			link.EXPECT().AddToxic(mock.Anything, mock.Anything).RunAndReturn(func(_ context.Context, x toxiproxy.Toxic) error {
				added = x
				return nil
			}).Once()
			require.NoError(t, f.Inject(ctx))
			assert.Equal(t, tt.kind, added.Type)
			assert.Equal(t, tt.stream, added.Stream)
			assert.InDelta(t, 1, added.Toxicity, 0)
			assert.Equal(t, tt.attrs, added.Attributes)
			assert.True(t, strings.HasPrefix(added.Name, "firedrill_"+tt.kind+"_"+tt.stream+"_"), added.Name)

			// Injecting again while in effect adds nothing.
			require.NoError(t, f.Inject(ctx))

			// Revert removes exactly that toxic, once.
			link.EXPECT().RemoveToxic(mock.Anything, added.Name).Return(nil).Once()
			require.NoError(t, f.Revert(ctx))
			require.NoError(t, f.Revert(ctx))
		})
	}
}

func TestToxicNamesAreUnique(t *testing.T) {
	link := newMockToxicTarget(t)
	seen := map[string]bool{}
	link.EXPECT().AddToxic(mock.Anything, mock.Anything).RunAndReturn(func(_ context.Context, x toxiproxy.Toxic) error {
		assert.False(t, seen[x.Name], "duplicate toxic name %s", x.Name)
		seen[x.Name] = true
		return nil
	}).Times(4)
	a := faults.Latency(link, time.Second)
	b := faults.Latency(link, time.Second)
	require.NoError(t, a.Inject(ctx))
	require.NoError(t, b.Inject(ctx))
	require.NoError(t, faults.Latency(link, time.Second).Both().Inject(ctx))
	assert.Len(t, seen, 4)
}

func TestToxicRevertToleratesNotFound(t *testing.T) {
	link := newMockToxicTarget(t)
	link.EXPECT().AddToxic(mock.Anything, mock.Anything).Return(nil).Once()
	link.EXPECT().RemoveToxic(mock.Anything, mock.Anything).Return(&toxiproxy.ApiError{Message: "toxic not found", Status: 404}).Once()
	f := faults.ResetPeer(link, 0)
	require.NoError(t, f.Inject(ctx))
	assert.NoError(t, f.Revert(ctx))
	assert.NoError(t, f.Revert(ctx)) // nothing left: no call
}

func TestToxicRevertErrorIsKeptForRetry(t *testing.T) {
	link := newMockToxicTarget(t)
	link.EXPECT().AddToxic(mock.Anything, mock.Anything).Return(nil).Once()
	boom := errors.New("connection refused")
	link.EXPECT().RemoveToxic(mock.Anything, mock.Anything).Return(boom).Once()
	f := faults.Bandwidth(link, 1)
	require.NoError(t, f.Inject(ctx))
	err := f.Revert(ctx)
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "revert bandwidth(")
	link.EXPECT().RemoveToxic(mock.Anything, mock.Anything).Return(nil).Once()
	assert.NoError(t, f.Revert(ctx))
}

// The second of two toxics fails: the first is removed before Inject returns.
func TestToxicBothRollsBackPartialInjection(t *testing.T) {
	link := newMockToxicTarget(t)
	var first string
	link.EXPECT().AddToxic(mock.Anything, mock.MatchedBy(func(x toxiproxy.Toxic) bool { return x.Stream == "upstream" })).
		RunAndReturn(func(_ context.Context, x toxiproxy.Toxic) error { first = x.Name; return nil }).Once()
	link.EXPECT().AddToxic(mock.Anything, mock.MatchedBy(func(x toxiproxy.Toxic) bool { return x.Stream == "downstream" })).
		Return(errors.New("HTTP 500")).Once()
	link.EXPECT().RemoveToxic(mock.Anything, mock.Anything).RunAndReturn(func(_ context.Context, name string) error {
		assert.Equal(t, first, name)
		return nil
	}).Once()
	f := faults.Latency(link, time.Second).Both()
	err := f.Inject(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "add downstream toxic")
	assert.NoError(t, f.Revert(ctx)) // nothing in effect: no call
}

func TestDown(t *testing.T) {
	link := newMockLinkTarget(t)
	link.EXPECT().Disable(mock.Anything).Return(nil).Once()
	link.EXPECT().Enable(mock.Anything).Return(nil).Once()
	f := faults.Down(link)
	require.NoError(t, f.Inject(ctx))
	require.NoError(t, f.Inject(ctx)) // already down: no call
	require.NoError(t, f.Revert(ctx))
	require.NoError(t, f.Revert(ctx)) // already up: no call
}
