package faults_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/faults"
)

// Chained builders return a new fault and leave the one they are called on
// as it was.
func TestBuildersReturnCopies(t *testing.T) {
	link := faults.ProxyLink(nil)

	lat := faults.Latency(link, time.Second)
	lat2 := lat.Jitter(time.Millisecond)
	lat3 := lat2.Upstream().Toxicity(0.5)
	assert.Equal(t, "latency(<nil proxy>, downstream, 1s)", lat.Name())
	assert.Equal(t, "latency(<nil proxy>, downstream, 1s±1ms)", lat2.Name())
	assert.Equal(t, "latency(<nil proxy>, upstream, 1s±1ms, toxicity=0.5)", lat3.Name())

	sl := faults.Slicer(link, 16)
	_ = sl.Variation(4)
	_ = sl.Delay(time.Millisecond)
	_ = sl.Both()
	assert.Equal(t, "slicer(<nil proxy>, downstream, 16±0B, 0s)", sl.Name())

	bw := faults.Bandwidth(link, 8)
	_ = bw.Direction(faults.Upstream)
	assert.Equal(t, "bandwidth(<nil proxy>, downstream, 8KB/s)", bw.Name())

	c := newMockContainerTarget(t)
	kill := faults.Kill(c, "")
	assert.NotSame(t, kill, kill.KeepDown())

	loop := faults.CrashLoop(c, 3, time.Second)
	assert.Contains(t, loop.Signal("SIGTERM").Name(), "SIGTERM")
	assert.Contains(t, loop.Name(), "SIGKILL")

	disk := faults.DiskFull(newMockDiskTarget(t), "/data")
	require.Error(t, disk.Using(nil, nil).Validate())
	require.NoError(t, disk.Validate())

	n := faults.Nemesis(42, faults.Down(link))
	_ = n.Window(time.Second).Hold(time.Second, time.Second).Gap(0, 0)
	assert.Equal(t, "nemesis(seed=42, 1 faults, window 30s, hold 1s-5s, gap 1s-3s)", n.String())
}
