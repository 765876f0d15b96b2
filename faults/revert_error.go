package faults

import (
	"reflect"
	"strings"
)

// RevertError is a fault that could not be reverted: what, why, and the one-line fix.
type RevertError struct {
	// Fault is the fault's Name.
	Fault string
	// Err is what its Revert returned.
	Err error
	// Fix says in one line how to undo the fault by hand.
	Fix string
}

// Error is "revert <fault>: <why>; fix: <fix>".
func (e RevertError) Error() string {
	msg := "<nil>"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if !strings.Contains(msg, e.Fault) {
		msg = "revert " + e.Fault + ": " + msg
	}
	if e.Fix != "" {
		msg += "; fix: " + e.Fix
	}
	return msg
}

// Unwrap returns Err.
func (e RevertError) Unwrap() error { return e.Err }

// Fixer is implemented by faults that can say, in one line, how to undo
// them by hand when Revert fails. Faults of this package say it by the kind
// of their target; a Fixer's answer takes precedence.
type Fixer interface {
	Fix() string
}

func newRevertError(f Fault, err error) RevertError {
	return RevertError{Fault: faultName(f), Err: err, Fix: FixOf(f)}
}

const wipeAll = "`make wipe` removes every firedrill container"

// FixOf is the one-line fix of a fault that could not be reverted: the
// fault's own (Fixer), else one by the kind of its target.
func FixOf(f Fault) string {
	if x, ok := f.(Fixer); ok {
		return x.Fix()
	}
	switch f := f.(type) {
	case *KillFault:
		return containerFix(f.c)
	case *StopFault:
		return containerFix(f.c)
	case *RestartFault:
		return containerFix(f.c)
	case *CrashLoopFault:
		return containerFix(f.c)
	case *PauseFault:
		return "the container stays frozen: `docker unpause " + dockerRef(f.c) + "`, or remove it; " + wipeAll
	case *PartitionFault:
		return "the container stays off its network: `docker network connect` it again or remove it; " + wipeAll
	case *CPUFault:
		return resourceFix(f.c)
	case *MemoryFault:
		return resourceFix(f.c)
	case *OOMFault:
		return resourceFix(f.c)
	case *DiskFullFault:
		return "the filler file stays in the container until it is removed: delete it with `docker exec " + dockerRef(f.c) + " ...`, or remove the container; " + wipeAll
	case *DownFault:
		return "the link's proxy stays disabled until the system is torn down; `make wipe` removes it"
	case *AllFault:
		return "revert each member by hand (see their errors); " + wipeAll
	case interface{ Link() ToxicTarget }:
		return "the toxic stays on the proxy until the system is torn down; `make wipe` removes it"
	case *OneWayFault:
		return "the toxic stays on the proxy until the system is torn down; `make wipe` removes it"
	}
	return "undo it by hand; " + wipeAll + " and its network"
}

func containerFix(c any) string {
	ref := dockerRef(c)
	return "the container did not come back: read its logs (docker logs " + ref + ") and start or remove it by hand; " + wipeAll
}

func resourceFix(c any) string {
	return "the limit stays on the container: `docker update` it back (docker inspect " + dockerRef(c) +
		" shows it) or remove the container; " + wipeAll
}

// dockerRef names a container for the docker command line: its ID (short)
// if it has one (as *scenarios.Container does), else its name.
func dockerRef(c any) string {
	if isNil(c) {
		return "<container>"
	}
	rv := reflect.ValueOf(c)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.Struct {
		if f := rv.FieldByName("ID"); f.IsValid() && f.Kind() == reflect.String && f.String() != "" {
			id := f.String()
			if len(id) > 12 {
				id = id[:12]
			}
			return id
		}
	}
	if rv.Kind() == reflect.String && rv.String() != "" {
		return rv.String()
	}
	return nameOf(c)
}
