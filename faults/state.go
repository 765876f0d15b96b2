package faults

import "github.com/firedrill/firedrill/scenarios"

// State is a container's state as the runtime reports it.
type State = scenarios.State

// Resources are a container's CPU and memory limits; a zero field means
// unchanged in an update.
type Resources = scenarios.Resources

// Event is a record of the Docker daemon about a container (EventReader).
type Event = scenarios.Event
