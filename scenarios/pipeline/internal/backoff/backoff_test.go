package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/backoff"
)

func TestExponentialBoundsAndCap(t *testing.T) {
	t.Parallel()
	low := backoff.Exponential(100*time.Millisecond, 5*time.Second, func() float64 { return 0 })
	high := backoff.Exponential(100*time.Millisecond, 5*time.Second, func() float64 { return 0.999999 })
	tests := []struct {
		attempt int
		full    time.Duration
	}{{0, 100 * time.Millisecond}, {1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond}, {6, 3200 * time.Millisecond}, {7, 5 * time.Second}, {50, 5 * time.Second}, {1 << 20, 5 * time.Second}}
	for _, tt := range tests {
		assert.Equal(t, tt.full/2, low(tt.attempt), "attempt %d low", tt.attempt)
		assert.InDelta(t, float64(tt.full), float64(high(tt.attempt)), float64(time.Microsecond*10), "attempt %d high", tt.attempt)
	}
}

func TestDefaultJitterStaysInRange(t *testing.T) {
	t.Parallel()
	for i := range 1000 {
		d := backoff.Default(i%10 + 1)
		assert.GreaterOrEqual(t, d, 50*time.Millisecond)
		assert.LessOrEqual(t, d, 5*time.Second)
	}
}

func TestSleepStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	assert.False(t, backoff.Sleep(ctx, time.Hour))
	assert.Less(t, time.Since(start), time.Second)
	assert.True(t, backoff.Sleep(t.Context(), time.Millisecond))
}
