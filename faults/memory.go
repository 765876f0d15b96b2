package faults

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// MemoryFault limits a container's memory (with no swap) through Docker's
// update API. Revert restores the limits in place before (read through
// ResourceReader when the target offers it; otherwise taken as unlimited,
// which Docker 20.10 cannot set back, so the host's total memory is used).
type MemoryFault struct {
	c     ResourceTarget
	bytes int64

	mu   sync.Mutex
	prev *Resources
}

var _ Fault = (*MemoryFault)(nil)
var _ Validator = (*MemoryFault)(nil)

// Memory limits c to bytes of memory and no swap.
func Memory(c ResourceTarget, bytes int64) *MemoryFault { return &MemoryFault{c: c, bytes: bytes} }

// Name is "memory(<container>, <MiB>)".
func (f *MemoryFault) Name() string { return fmt.Sprintf("memory(%s, %s)", nameOf(f.c), mib(f.bytes)) }

// Validate checks the target and refuses limits below MinMemory.
func (f *MemoryFault) Validate() error {
	if err := validContainer("memory", f.c); err != nil {
		return err
	}
	if f.bytes < MinMemory {
		return fmt.Errorf("memory %s: %w: %d bytes asked", nameOf(f.c), ErrMemoryTooLow, f.bytes)
	}
	return nil
}

// Inject records the current limits and sets the new one.
func (f *MemoryFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injectLocked(ctx)
}

func (f *MemoryFault) injectLocked(ctx context.Context) error {
	if f.prev != nil {
		return nil
	}
	prev, err := currentResources(ctx, f.c)
	if err != nil {
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	if err := f.c.Update(ctx, Resources{Memory: f.bytes, MemorySwap: f.bytes}); err != nil {
		return fmt.Errorf("inject %s: %w", f.Name(), err)
	}
	f.prev = &prev
	return nil
}

// Revert restores the previous limits.
func (f *MemoryFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.revertLocked(ctx)
}

func (f *MemoryFault) revertLocked(ctx context.Context) error {
	if f.prev == nil {
		return nil
	}
	r := Resources{Memory: f.prev.Memory, MemorySwap: f.prev.MemorySwap}
	if r.Memory <= 0 {
		r.Memory = unlimitedMemory()
		r.MemorySwap = r.Memory
	} else if r.MemorySwap == 0 {
		r.MemorySwap = r.Memory
	}
	if err := f.c.Update(ctx, r); err != nil && !IsNotFound(err) {
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	f.prev = nil
	return nil
}

func mib(b int64) string {
	if b%(1<<20) == 0 {
		return strconv.FormatInt(b>>20, 10) + "MiB"
	}
	return strconv.FormatInt(b, 10) + "B"
}

// unlimitedMemory is the host's total memory, page aligned: no effective
// limit (Docker 20.10 refuses to lift a memory limit once set).
var unlimitedMemory = func() int64 {
	const fallback = 1 << 40
	fh, err := os.Open("/proc/meminfo")
	if err != nil {
		return fallback
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil && kb > 0 {
				return kb * 1024 &^ 4095
			}
		}
	}
	return fallback
}
