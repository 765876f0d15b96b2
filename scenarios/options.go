package scenarios

import (
	"errors"
	"fmt"
	"os"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"
)

// DefaultReadyTimeout bounds each container's readiness wait unless
// [Config.ReadyTimeout] or ContainerSpec.ReadyTimeout says otherwise.
const DefaultReadyTimeout = 30 * time.Second

// Option configures [Start] and [StartContext]: the defaults are set, then
// the options run in order on the [Config], then the result is validated.
// An option that returns an error stops the start. Write your own as a
// func(*Config) error (see the example).
type Option func(*Config) error

// Config is what options set; each field's default is given.
type Config struct {
	// ReadyTimeout bounds the readiness wait of a container whose
	// ContainerSpec.ReadyTimeout is zero: positive, default
	// [DefaultReadyTimeout].
	ReadyTimeout time.Duration
	// RunID is the [LabelRun] value: not empty, default [RunID].
	RunID string
	// TestName is the [LabelTest] value; [Start] sets it to t.Name().
	TestName string
	// Logf receives the runtime's own messages (teardown, a failed test's
	// last log lines); [Start] sets t.Logf; nil discards them.
	Logf func(format string, args ...any)
	// TestcontainersLogger is given to testcontainers-go; nil discards.
	TestcontainersLogger tclog.Logger
	// WatchdogMargin asks the process's ending handler ([AtEnd]) to tear
	// systems down at least this long before the -timeout deadline (at most
	// a quarter of the time left; the largest margin of the binary wins):
	// positive, default [EndMargin].
	WatchdogMargin time.Duration
	// ParallelStart starts every container at once, not after the
	// containers it links to are ready (a client that dials too early gets
	// a refused, proxied connection and must retry); those that use links
	// still wait for the proxies.
	ParallelStart bool
	// Pull lets Start pull an image that is not present locally, through
	// the Docker API with the user's Docker credentials
	// (~/.docker/config.json and its credential helpers): default true.
	// [EnvPull]=never turns it off whatever the options say. The project's
	// own images (firedrill/NAME:local) and built images are never pulled.
	Pull bool
}

// EnvPull is the environment variable that turns pulling off: with
// FIREDRILL_PULL=never, an image that is not present locally is an error
// ([ErrImageMissing]) and nothing is asked of a registry. Empty or
// "missing" (pull what is missing) keeps [Config.Pull].
const EnvPull = "FIREDRILL_PULL"

// newConfig applies the defaults, then opts in order, then validates the
// result.
func newConfig(opts ...Option) (Config, error) {
	c := Config{
		ReadyTimeout:   DefaultReadyTimeout,
		RunID:          RunID(),
		WatchdogMargin: EndMargin,
		Pull:           true,
	}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return c, fmt.Errorf("option: %w", err)
		}
	}
	if err := c.validate(); err != nil {
		return c, fmt.Errorf("option: %w", err)
	}
	return c, nil
}

// validate checks what options may have set wrong and fills the nil
// loggers.
func (c *Config) validate() error {
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.TestcontainersLogger == nil {
		c.TestcontainersLogger = tclog.NewNoopLogger()
	}
	var pullErr error
	switch v := os.Getenv(EnvPull); v {
	case "", "missing":
	case "never":
		c.Pull = false
	default:
		pullErr = fmt.Errorf("%s=%q: want \"never\" (no pulls) or \"missing\" (pull what is not present; the default)", EnvPull, v)
	}
	return errors.Join(
		pullErr,
		positive("ready timeout", c.ReadyTimeout),
		positive("watchdog margin", c.WatchdogMargin),
		notEmpty("run id", c.RunID),
	)
}

func positive(what string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s %v: must be positive", what, d)
	}
	return nil
}

func notEmpty(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s: must not be empty", what)
	}
	return nil
}

// WithReadyTimeout sets [Config.ReadyTimeout]; d must be positive.
func WithReadyTimeout(d time.Duration) Option {
	return func(c *Config) error {
		if err := positive("ready timeout", d); err != nil {
			return err
		}
		c.ReadyTimeout = d
		return nil
	}
}

// WithRunID sets [Config.RunID]; id must not be empty.
func WithRunID(id string) Option {
	return func(c *Config) error {
		if err := notEmpty("run id", id); err != nil {
			return err
		}
		c.RunID = id
		return nil
	}
}

// WithTestName sets [Config.TestName].
func WithTestName(name string) Option {
	return func(c *Config) error { c.TestName = name; return nil }
}

// WithLogf sets [Config.Logf].
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *Config) error { c.Logf = logf; return nil }
}

// WithTestcontainersLogger sets [Config.TestcontainersLogger].
func WithTestcontainersLogger(l tclog.Logger) Option {
	return func(c *Config) error { c.TestcontainersLogger = l; return nil }
}

// WithWatchdogMargin sets [Config.WatchdogMargin]; d must be positive.
func WithWatchdogMargin(d time.Duration) Option {
	return func(c *Config) error {
		if err := positive("watchdog margin", d); err != nil {
			return err
		}
		c.WatchdogMargin = d
		return nil
	}
}

// WithPull sets [Config.Pull]: false never pulls a missing image.
func WithPull(pull bool) Option {
	return func(c *Config) error { c.Pull = pull; return nil }
}

// WithParallelStart sets [Config.ParallelStart].
func WithParallelStart() Option {
	return func(c *Config) error { c.ParallelStart = true; return nil }
}
