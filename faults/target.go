package faults

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	cerrdefs "github.com/containerd/errdefs"
)

// Fixed errors. Validation errors wrap one of these, so callers can test
// with errors.Is.
var (
	// ErrNoTarget: the fault has no target (nil container or link).
	ErrNoTarget = errors.New("no target")
	// ErrNoLink: a toxic was asked for between containers that have no link.
	ErrNoLink = errors.New("no such link")
	// ErrDuration: a duration or interval that must be positive is not.
	ErrDuration = errors.New("duration must be positive")
	// ErrMemoryTooLow: a memory limit below what Docker accepts (MinMemory).
	ErrMemoryTooLow = errors.New("memory limit below Docker's minimum of 6 MiB")
	// ErrInvalid: any other parameter out of range.
	ErrInvalid = errors.New("invalid fault parameter")
	// ErrNilFault: a schedule or composite holds a nil fault.
	ErrNilFault = errors.New("nil fault")
)

// MinMemory is the smallest memory limit Docker accepts (6 MiB).
const MinMemory int64 = 6 << 20

// LinkTarget is a network link routed through a toxiproxy proxy that can
// be switched off and on, as Down takes it. *scenarios.Link satisfies it.
type LinkTarget interface {
	// Enable and Disable switch the proxy on and off (off drops every
	// connection and refuses new ones).
	Enable(ctx context.Context) error
	Disable(ctx context.Context) error
}

// ToxicTarget is a link that takes toxics, as the toxic faults take it.
// *scenarios.Link satisfies it; wrap a raw toxiproxy proxy with ProxyLink.
type ToxicTarget interface {
	LinkTarget
	// AddToxic adds t (with its unique name) to the link's proxy.
	AddToxic(ctx context.Context, t toxiproxy.Toxic) error
	// RemoveToxic removes the toxic named name. A toxic that does not exist
	// yields an error satisfying IsNotFound (toxiproxy answers 404).
	RemoveToxic(ctx context.Context, name string) error
}

// ContainerTarget is a container's lifecycle as the lifecycle faults use it.
// *scenarios.Container satisfies it.
type ContainerTarget interface {
	Kill(ctx context.Context, signal string) error
	Stop(ctx context.Context, timeout time.Duration) error
	Start(ctx context.Context) error
	Restart(ctx context.Context, timeout time.Duration) error
	Pause(ctx context.Context) error
	Unpause(ctx context.Context) error
	State(ctx context.Context) (State, error)
	// WaitReady re-runs the container's readiness condition.
	WaitReady(ctx context.Context) error
}

// NetworkTarget is a container that can be cut off from its system's
// network and put back. *scenarios.Container satisfies it.
type NetworkTarget interface {
	Disconnect(ctx context.Context) error
	Connect(ctx context.Context) error
	State(ctx context.Context) (State, error)
}

// ResourceTarget is a container whose CPU and memory limits can be changed.
// *scenarios.Container satisfies it. If it also implements ResourceReader the
// limits in place before the fault are read and restored exactly; otherwise
// they are taken to be unlimited.
type ResourceTarget interface {
	Update(ctx context.Context, r Resources) error
	State(ctx context.Context) (State, error)
}

// ResourceReader is optionally implemented by a ResourceTarget to report the
// limits in place.
type ResourceReader interface {
	Resources(ctx context.Context) (Resources, error)
}

// Execer runs a command inside a container. *scenarios.Container satisfies it.
type Execer interface {
	Exec(ctx context.Context, cmd []string) (exitCode int, output string, err error)
}

// IsNotFound reports whether err says the target (container, toxic, proxy)
// does not exist, which revert treats as "nothing left to revert".
func IsNotFound(err error) bool {
	if err == nil {
		return false
	}
	var api *toxiproxy.ApiError
	if errors.As(err, &api) && api.Status == 404 {
		return true
	}
	if cerrdefs.IsNotFound(err) {
		return true
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "no such container") || strings.Contains(s, "toxic not found") ||
		strings.Contains(s, "proxy not found")
}

// nameOf names a target for messages: its String method, else a string
// field called Name (as *scenarios.Container and *scenarios.Link have), else
// its type.
func nameOf(v any) string {
	if isNil(v) {
		return "<nil>"
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return "<nil>"
		}
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.Struct {
		if f := rv.FieldByName("Name"); f.IsValid() && f.Kind() == reflect.String && f.String() != "" {
			return f.String()
		}
	}
	return fmt.Sprintf("%T", v)
}

// isNil reports whether v is nil or a typed nil pointer inside an interface.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// gone reports whether a container is gone or no longer running, in which
// case a revert has nothing to do.
func gone(ctx context.Context, s interface {
	State(context.Context) (State, error)
}) bool {
	st, err := s.State(ctx)
	if err != nil {
		return IsNotFound(err)
	}
	return !st.Running && !st.Paused
}
