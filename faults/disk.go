package faults

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
)

// DiskTarget is a container in which commands can be run.
// *scenarios.Container satisfies it.
type DiskTarget interface {
	Execer
	State(ctx context.Context) (State, error)
}

// DiskFullFault fills a size-limited filesystem of a container (a tmpfs or
// a volume) with one file until writes fail with "no space left on device".
// Revert removes the file.
//
// By default the file is written with the image's shell
// (`sh -c 'cat /dev/zero > FILE'`) and removed with `rm -f FILE`. Images
// without a shell (FROM scratch) name their own commands with Using: any
// program in the image that writes until ENOSPC and one that deletes.
// The Docker copy API cannot be used instead: it writes beneath a tmpfs,
// into the container's layer, not into the tmpfs.
type DiskFullFault struct {
	diskFullSpec

	mu     sync.Mutex
	filled bool
}

// diskFullSpec is what a DiskFullFault is, apart from its state.
type diskFullSpec struct {
	c          DiskTarget
	file       string
	fill, free []string
}

var _ Fault = (*DiskFullFault)(nil)
var _ Validator = (*DiskFullFault)(nil)

// DiskFull fills the filesystem that holds dir, in container c, with the
// file dir/.firedrill-fill.
func DiskFull(c DiskTarget, dir string) *DiskFullFault {
	file := path.Join(dir, ".firedrill-fill")
	return &DiskFullFault{diskFullSpec: diskFullSpec{
		c:    c,
		file: file,
		fill: []string{"sh", "-c", "cat /dev/zero > '" + file + "'"},
		free: []string{"rm", "-f", file},
	}}
}

// Using is f with the commands that fill and free the filesystem (a new
// fault: f is unchanged). The fill command succeeds when it exits 0 or
// says "no space left"; free must exit 0.
func (f *DiskFullFault) Using(fill, free []string) *DiskFullFault {
	d := f.diskFullSpec
	d.fill, d.free = slices.Clone(fill), slices.Clone(free)
	return &DiskFullFault{diskFullSpec: d}
}

// File is the path of the filler file.
func (f *DiskFullFault) File() string { return f.file }

// Name is "diskfull(<container>, <dir>)".
func (f *DiskFullFault) Name() string {
	return "diskfull(" + nameOf(f.c) + ", " + path.Dir(f.file) + ")"
}

// Validate checks the target, the path and the commands.
func (f *DiskFullFault) Validate() error {
	if err := validContainer("diskfull", f.c); err != nil {
		return err
	}
	if !path.IsAbs(f.file) || path.Dir(f.file) == "/" {
		return fmt.Errorf("diskfull %s: %w: directory %q (want an absolute path to a size-limited mount, not /)", nameOf(f.c), ErrInvalid, path.Dir(f.file))
	}
	if strings.ContainsAny(f.file, "'\n") {
		return fmt.Errorf("diskfull %s: %w: directory %q has a quote or newline", nameOf(f.c), ErrInvalid, path.Dir(f.file))
	}
	if len(f.fill) == 0 || len(f.free) == 0 {
		return fmt.Errorf("diskfull %s: %w: empty fill or free command", nameOf(f.c), ErrInvalid)
	}
	return nil
}

// Inject writes until the filesystem is full. If the fill command fails
// for any other reason, what it wrote is removed.
func (f *DiskFullFault) Inject(ctx context.Context) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.filled {
		return nil
	}
	code, out, err := f.c.Exec(ctx, f.fill)
	if err == nil && (code == 0 || strings.Contains(strings.ToLower(out), "no space left")) {
		f.filled = true
		return nil
	}
	if err == nil {
		err = fmt.Errorf("%q exited %d without filling the disk: %s", strings.Join(f.fill, " "), code, strings.TrimSpace(out))
	}
	err = fmt.Errorf("inject %s: %w", f.Name(), err)
	if _, _, rerr := f.c.Exec(context.WithoutCancel(ctx), f.free); rerr != nil && !gone(context.WithoutCancel(ctx), f.c) {
		err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
	}
	return err
}

// Revert removes the filler file. A container that is gone or stopped is
// not an error (a tmpfs dies with it).
func (f *DiskFullFault) Revert(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.filled {
		return nil
	}
	code, out, err := f.c.Exec(ctx, f.free)
	if err != nil || code != 0 {
		if gone(ctx, f.c) {
			f.filled = false
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%q exited %d: %s", strings.Join(f.free, " "), code, strings.TrimSpace(out))
		}
		return fmt.Errorf("revert %s: %w", f.Name(), err)
	}
	f.filled = false
	return nil
}
