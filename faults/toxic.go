package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// Direction is the stream a toxic acts on. Upstream is client→server,
// downstream is server→client (toxiproxy's terms).
type Direction string

// Directions.
const (
	Downstream Direction = "downstream"
	Upstream   Direction = "upstream"
	// BothWays puts one toxic on each stream; if the second cannot be added
	// the first is removed again.
	BothWays Direction = "both"
)

func (d Direction) streams() []string {
	switch d {
	case Upstream:
		return []string{"upstream"}
	case BothWays:
		return []string{"upstream", "downstream"}
	default:
		return []string{"downstream"}
	}
}

var toxicSeq atomic.Uint64

// toxicName is unique per process and per injection, so revert removes
// exactly the toxics this fault added and nobody else's.
func toxicName(kind, stream string) string {
	return fmt.Sprintf("firedrill_%s_%s_%d_%d", kind, stream, os.Getpid(), toxicSeq.Add(1))
}

// toxic is the common part of every toxiproxy fault; each kind embeds it
// and adds its builder methods.
type toxic struct {
	link     ToxicTarget
	kind     string // toxiproxy toxic type
	dir      Direction
	toxicity float32

	attrs    func() toxiproxy.Attributes // the toxic's attributes
	params   func() string               // parameters for Name
	validate func() error                // kind-specific checks

	mu    sync.Mutex
	names []string // toxics of this fault in effect
}

func (t *toxic) init(link ToxicTarget, kind string) {
	t.link, t.kind, t.dir, t.toxicity = link, kind, Downstream, 1
}

// Link is the link the toxic acts on.
func (t *toxic) Link() ToxicTarget { return t.link }

// Name describes the fault, e.g. "latency(collector->lake, downstream, 300ms)".
func (t *toxic) Name() string {
	parts := []string{nameOf(t.link), string(t.dir)}
	if t.params != nil {
		if p := t.params(); p != "" {
			parts = append(parts, p)
		}
	}
	if t.toxicity != 1 {
		parts = append(parts, fmt.Sprintf("toxicity=%g", t.toxicity))
	}
	return t.kind + "(" + strings.Join(parts, ", ") + ")"
}

// Validate checks the target and parameters.
func (t *toxic) Validate() error {
	if isNil(t.link) {
		return fmt.Errorf("%s: %w: link is nil", t.kind, ErrNoTarget)
	}
	switch t.dir {
	case Upstream, Downstream, BothWays:
	default:
		return fmt.Errorf("%s on %s: %w: direction %q (want upstream, downstream or both)", t.kind, nameOf(t.link), ErrInvalid, t.dir)
	}
	if !(t.toxicity > 0 && t.toxicity <= 1) {
		return fmt.Errorf("%s on %s: %w: toxicity %g not in (0, 1]", t.kind, nameOf(t.link), ErrInvalid, t.toxicity)
	}
	if t.validate != nil {
		if err := t.validate(); err != nil {
			return fmt.Errorf("%s on %s: %w", t.kind, nameOf(t.link), err)
		}
	}
	return nil
}

// Inject adds the toxic (one per stream). If a stream's toxic cannot be
// added, those already added are removed before the error is returned.
func (t *toxic) Inject(ctx context.Context) error {
	if err := t.Validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.names) > 0 {
		return nil // already in effect
	}
	var attrs toxiproxy.Attributes
	if t.attrs != nil {
		attrs = t.attrs()
	}
	for _, stream := range t.dir.streams() {
		tx := toxiproxy.Toxic{
			Name:       toxicName(t.kind, stream),
			Type:       t.kind,
			Stream:     stream,
			Toxicity:   t.toxicity,
			Attributes: attrs,
		}
		if err := t.link.AddToxic(ctx, tx); err != nil {
			err = fmt.Errorf("inject %s: add %s toxic: %w", t.Name(), stream, err)
			if rerr := t.removeLocked(context.WithoutCancel(ctx)); rerr != nil {
				err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
			}
			return err
		}
		t.names = append(t.names, tx.Name)
	}
	return nil
}

// Revert removes the toxics this fault added. A toxic that is already gone
// is not an error.
func (t *toxic) Revert(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.removeLocked(ctx); err != nil {
		return fmt.Errorf("revert %s: %w", t.Name(), err)
	}
	return nil
}

func (t *toxic) removeLocked(ctx context.Context) error {
	if len(t.names) == 0 {
		return nil
	}
	var errs []error
	var kept []string
	for i := len(t.names) - 1; i >= 0; i-- {
		name := t.names[i]
		if err := t.link.RemoveToxic(ctx, name); err != nil && !IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove toxic %s: %w", name, err))
			kept = append(kept, name)
		}
	}
	t.names = kept
	return errors.Join(errs...)
}
