package etcd

import (
	"errors"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/scenarios"
)

// Option configures Start and StartContext: applied in order over the
// defaults (3 members, heartbeat 100 ms, election timeout 1 s, data on the
// container's own filesystem), then validated; an option that fails stops
// the start with an error naming it.
type Option func(*config) error

// DataPlacement is where a member keeps its data directory.
type DataPlacement int

// The data placements.
const (
	// DataOnContainer keeps the data directory on the container's own
	// filesystem (its writable layer): a killed member started again has
	// its data and rejoins. The default.
	DataOnContainer DataPlacement = iota
	// DataOnVolume keeps it on a named volume per member (created for the
	// cluster, labelled, removed with it): kept across a kill and a start
	// like DataOnContainer, and outside the container's writable layer.
	DataOnVolume
	// DataOnTmpfs keeps it on a tmpfs, which Docker empties whenever the
	// container stops: a killed member started again has lost its data
	// while its peers remember it, and etcd refuses to start ("member ...
	// has already been bootstrapped"). Only for showing that trap.
	DataOnTmpfs
)

// Defaults of the cluster.
const (
	DefaultHeartbeat       = 100 * time.Millisecond
	DefaultElectionTimeout = time.Second
)

type config struct {
	heartbeat, election time.Duration
	data                DataPlacement
	scenario            []scenarios.Option
}

// WithElectionTimeout sets etcd's --election-timeout: how long a follower
// waits without hearing from a leader before it campaigns (a leader's loss
// is noticed after one to two of these). It must be at least 5 heartbeats
// and at most 50 s, as etcd requires.
func WithElectionTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 || d%time.Millisecond != 0 {
			return fmt.Errorf("election timeout %v: must be a positive whole number of milliseconds", d)
		}
		c.election = d
		return nil
	}
}

// WithHeartbeat sets etcd's --heartbeat-interval (positive, whole
// milliseconds).
func WithHeartbeat(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 || d%time.Millisecond != 0 {
			return fmt.Errorf("heartbeat %v: must be a positive whole number of milliseconds", d)
		}
		c.heartbeat = d
		return nil
	}
}

// WithData sets where members keep their data (default DataOnContainer).
func WithData(p DataPlacement) Option {
	return func(c *config) error {
		if p != DataOnContainer && p != DataOnVolume && p != DataOnTmpfs {
			return fmt.Errorf("data placement %d: want etcd.DataOnContainer, etcd.DataOnVolume or etcd.DataOnTmpfs", p)
		}
		c.data = p
		return nil
	}
}

// WithScenarioOptions passes options to the container runtime
// (scenarios.Start), after any given before.
func WithScenarioOptions(opts ...scenarios.Option) Option {
	return func(c *config) error {
		c.scenario = append(c.scenario, opts...)
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	c := config{heartbeat: DefaultHeartbeat, election: DefaultElectionTimeout}
	var errs []error
	for _, o := range opts {
		if o != nil {
			errs = append(errs, o(&c))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("option: %w", err)
	}
	if c.election < 5*c.heartbeat {
		return c, fmt.Errorf("election timeout %v is less than 5 heartbeats (%v): etcd needs a follower to miss several heartbeats before it campaigns; raise WithElectionTimeout or lower WithHeartbeat", c.election, c.heartbeat)
	}
	if c.election > 50*time.Second {
		return c, fmt.Errorf("election timeout %v: etcd accepts at most 50s", c.election)
	}
	return c, nil
}
