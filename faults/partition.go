package faults

import (
	"context"
	"fmt"
	"sync"
)

// PartitionFault cuts a container off from its system's network: it can
// reach no other container and none can reach it. Revert (heal) connects it
// again with its alias.
type PartitionFault struct {
	c NetworkTarget

	mu  sync.Mutex
	cut bool
}

var _ Fault = (*PartitionFault)(nil)
var _ Validator = (*PartitionFault)(nil)

// Partition disconnects c from the system network.
func Partition(c NetworkTarget) *PartitionFault { return &PartitionFault{c: c} }

// Name is "partition(<container>)".
func (f *PartitionFault) Name() string { return "partition(" + nameOf(f.c) + ")" }

// Validate checks the target.
func (f *PartitionFault) Validate() error { return validContainer("partition", f.c) }

// Inject disconnects the container.
func (f *PartitionFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return nil
	}
	if err := f.c.Disconnect(ctx); err != nil {
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	f.cut = true
	return nil
}

// Revert connects the container again. A container that is gone is not an
// error.
func (f *PartitionFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cut {
		return nil
	}
	if err := f.c.Connect(ctx); err != nil && !IsNotFound(err) {
		if _, serr := f.c.State(ctx); !IsNotFound(serr) {
			return fmt.Errorf("revert %s: %w", f.Name(), err)
		}
	}
	f.cut = false
	return nil
}
