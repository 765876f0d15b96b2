//go:build !unix

package scenarios

import (
	"context"
	"errors"
	"time"
)

// ErrNotLocal is returned by SignalProcess when this process cannot signal
// the container's main process itself: use Kill, through the Docker API.
var ErrNotLocal = errors.New("container process not signalable from here")

// SignalProcess is not available on this platform: it returns ErrNotLocal.
func (c *Container) SignalProcess(context.Context, string) (sent, acked time.Time, err error) {
	return time.Time{}, time.Time{}, ErrNotLocal
}
