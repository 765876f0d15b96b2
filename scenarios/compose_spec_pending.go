package scenarios

import (
	"context"
	"errors"
)

// ReadyHealthy is implemented on the spec branch; this placeholder lets the
// compose translation compile until that branch is merged (then this file
// is deleted).
func ReadyHealthy() Readiness { return readyHealthyPending{} }

type readyHealthyPending struct{}

func (readyHealthyPending) Check(context.Context, *Container) error {
	return errors.New("ReadyHealthy: not merged yet")
}
