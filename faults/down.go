package faults

import (
	"context"
	"fmt"
	"sync"
)

// DownFault takes a link down: its proxy is disabled, which drops every
// open connection and refuses new ones. Revert enables it again.
type DownFault struct {
	link LinkTarget

	mu   sync.Mutex
	down bool
}

var _ Fault = (*DownFault)(nil)
var _ Validator = (*DownFault)(nil)

// Down disables link's proxy.
func Down(link LinkTarget) *DownFault { return &DownFault{link: link} }

// Name is "down(<link>)".
func (f *DownFault) Name() string { return "down(" + nameOf(f.link) + ")" }

// Validate checks the link.
func (f *DownFault) Validate() error {
	if isNil(f.link) {
		return fmt.Errorf("down: %w: link is nil", ErrNoTarget)
	}
	return nil
}

// Inject disables the proxy.
func (f *DownFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil
	}
	if err := f.link.Disable(ctx); err != nil {
		// Disable is one call: if it failed the proxy may still have been
		// switched off; enabling it again is harmless.
		_ = f.link.Enable(context.WithoutCancel(ctx))
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	f.down = true
	return nil
}

// Revert enables the proxy again. A proxy that no longer exists is not an
// error.
func (f *DownFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return nil
	}
	if err := f.link.Enable(ctx); err != nil && !IsNotFound(err) {
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	f.down = false
	return nil
}
