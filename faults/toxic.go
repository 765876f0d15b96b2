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

// toxicKind is one kind of toxic: its own settings, and how they map to
// toxiproxy's type and attributes. Each kind's file holds one.
type toxicKind interface {
	toxicType() string                // toxiproxy's toxic type
	attributes() toxiproxy.Attributes // the settings, in toxiproxy's units
	String() string                   // the settings, for Name ("" for none)
	validate() error                  // the settings' checks
}

// toxicSpec is what a toxic is, apart from its state: the settings every
// kind shares (link, stream, toxicity), written once as toxiproxy keeps
// them in its ToxicWrapper, and the kind's own.
type toxicSpec[K toxicKind] struct {
	link     ToxicTarget
	dir      Direction
	toxicity float32
	kind     K
}

// Toxic is a toxiproxy toxic of kind K on a link: one per stream it acts
// on, each with a unique name. It holds what every kind shares (stream,
// toxicity, name, inject and revert); K, one per file, holds the kind's
// own settings. BandwidthFault, TimeoutFault and the other kinds without
// settings of their own beyond the constructor's are Toxics; LatencyFault
// and SlicerFault embed one. The builder methods return a new fault and
// leave the one they are called on as it was.
type Toxic[K toxicKind] struct {
	spec toxicSpec[K]

	mu    sync.Mutex
	names []string // toxics of this fault in effect
}

// newToxic is kind on link, downstream, with a toxicity of 1.
func newToxic[K toxicKind](link ToxicTarget, kind K) *Toxic[K] {
	return &Toxic[K]{spec: defaults(link, kind)}
}

func defaults[K toxicKind](link ToxicTarget, kind K) toxicSpec[K] {
	return toxicSpec[K]{link: link, dir: Downstream, toxicity: 1, kind: kind}
}

// with is a fresh fault (nothing in effect) with t's settings changed by set.
func (t *Toxic[K]) with(set func(*toxicSpec[K])) *Toxic[K] {
	s := t.spec
	set(&s)
	return &Toxic[K]{spec: s}
}

// Upstream puts the toxic on the client→server stream.
func (t *Toxic[K]) Upstream() *Toxic[K] { return t.Direction(Upstream) }

// Downstream puts the toxic on the server→client stream (the default).
func (t *Toxic[K]) Downstream() *Toxic[K] { return t.Direction(Downstream) }

// Both puts one toxic on each stream.
func (t *Toxic[K]) Both() *Toxic[K] { return t.Direction(BothWays) }

// Direction sets the stream: Upstream, Downstream or BothWays.
func (t *Toxic[K]) Direction(d Direction) *Toxic[K] {
	return t.with(func(s *toxicSpec[K]) { s.dir = d })
}

// Toxicity is the probability (0 < p ≤ 1, default 1) that a connection is
// affected.
func (t *Toxic[K]) Toxicity(p float64) *Toxic[K] {
	return t.with(func(s *toxicSpec[K]) { s.toxicity = float32(p) })
}

// Link is the link the toxic acts on.
func (t *Toxic[K]) Link() ToxicTarget { return t.spec.link }

// Name describes the fault, e.g. "latency(collector->lake, downstream, 300ms)".
func (t *Toxic[K]) Name() string {
	parts := []string{nameOf(t.spec.link), string(t.spec.dir)}
	if p := t.spec.kind.String(); p != "" {
		parts = append(parts, p)
	}
	if t.spec.toxicity != 1 {
		parts = append(parts, fmt.Sprintf("toxicity=%g", t.spec.toxicity))
	}
	return t.spec.kind.toxicType() + "(" + strings.Join(parts, ", ") + ")"
}

// Validate checks the target and parameters.
func (t *Toxic[K]) Validate() error {
	kind := t.spec.kind.toxicType()
	if isNil(t.spec.link) {
		return fmt.Errorf("%s: %w: link is nil", kind, ErrNoTarget)
	}
	switch t.spec.dir {
	case Upstream, Downstream, BothWays:
	default:
		return fmt.Errorf("%s on %s: %w: direction %q (want upstream, downstream or both)", kind, nameOf(t.spec.link), ErrInvalid, t.spec.dir)
	}
	if !(t.spec.toxicity > 0 && t.spec.toxicity <= 1) {
		return fmt.Errorf("%s on %s: %w: toxicity %g not in (0, 1]", kind, nameOf(t.spec.link), ErrInvalid, t.spec.toxicity)
	}
	if err := t.spec.kind.validate(); err != nil {
		return fmt.Errorf("%s on %s: %w", kind, nameOf(t.spec.link), err)
	}
	return nil
}

// Inject adds the toxic (one per stream). If a stream's toxic cannot be
// added, those already added are removed before the error is returned.
func (t *Toxic[K]) Inject(ctx context.Context) error {
	if err := t.Validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.names) > 0 {
		return nil // already in effect
	}
	kind, attrs := t.spec.kind.toxicType(), t.spec.kind.attributes()
	for _, stream := range t.spec.dir.streams() {
		tx := toxiproxy.Toxic{
			Name:       toxicName(kind, stream),
			Type:       kind,
			Stream:     stream,
			Toxicity:   t.spec.toxicity,
			Attributes: attrs,
		}
		if err := t.spec.link.AddToxic(ctx, tx); err != nil {
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
func (t *Toxic[K]) Revert(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.removeLocked(ctx); err != nil {
		return fmt.Errorf("revert %s: %w", t.Name(), err)
	}
	return nil
}

func (t *Toxic[K]) removeLocked(ctx context.Context) error {
	if len(t.names) == 0 {
		return nil
	}
	var errs []error
	var kept []string
	for i := len(t.names) - 1; i >= 0; i-- {
		name := t.names[i]
		if err := t.spec.link.RemoveToxic(ctx, name); err != nil && !IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove toxic %s: %w", name, err))
			kept = append(kept, name)
		}
	}
	t.names = kept
	return errors.Join(errs...)
}
