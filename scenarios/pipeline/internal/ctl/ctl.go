// Package ctl is pipelinectl, the pipeline's recovery tooling. Every command
// is idempotent and safe to re-run, prints text or (with --json) one JSON
// object on stdout, and exits with a code that means something:
//
//	0  ok
//	1  operational failure (a database unreachable, a statement failed)
//	2  usage error (unknown command or flag, bad value, missing --yes); usage on stderr
//	3  degraded (status only): lag, quarantine, pause, a current loader error,
//	   a stale loader heartbeat or a checkpoint ahead of the lake
package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firedrill/firedrill/scenarios/pipeline/internal/plant"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/schema"
	"github.com/firedrill/firedrill/scenarios/pipeline/internal/store"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitUsage    = 2
	ExitDegraded = 3
)

// Usage is printed on stderr on a usage error.
const Usage = `usage: pipelinectl [common flags] COMMAND [flags]

commands:
  status              lag, checkpoint, lake head, quarantine, pause, loader state and last error
                        --max-lag-seconds S (default 5)  --max-lag-events N (default 0 = unchecked)
                        --max-heartbeat-age D (default 10s)
                        exit 3 when degraded
  pause [--reason R]  stop the loader between batches (pipeline_control.paused)
  resume              clear the pause and the loader's error state; the loader retries at once
  schema [--set N]    show or set the schema version in force (1 strict, 2 accepts string amounts)
  backfill --from X --to Y [--source S] [--batch N]
                      re-apply the schema to lake rows in [X, Y] (X, Y: a seq or an RFC 3339
                      received_at time) and upsert them; reports rows and throughput
  requeue-quarantine [--batch N]
                      re-apply the current schema to quarantined events; those that pass move
                      to events, the others stay with their new reason
  wipe --yes          empty the warehouse (events, quarantine) and reset the checkpoint to 0 so
                      the loader replays the lake; refuses without --yes

common flags (before or after COMMAND):
  --lake DSN          lake PostgreSQL (env LAKE_DSN)
  --warehouse DSN     warehouse PostgreSQL (env WAREHOUSE_DSN)
  --json              print one JSON object
  --timeout D         overall deadline (default 5m)
  --plant DEFECT,...  planted defects, for drills that must catch them (env PIPELINE_PLANT):
                      backfill-whole-lake, wipe-keeps-checkpoint, requeue-drops-quarantine

exit codes: 0 ok, 1 operational failure, 2 usage error, 3 degraded (status)
`

var errUsage = errors.New("usage")

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
func (e usageError) Is(t error) bool {
	return t == errUsage
}

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// Env looks up an environment variable (os.Getenv in main).
type Env func(string) string

// common holds the flags every command accepts.
type common struct {
	lake, warehouse string
	json            bool
	timeout         time.Duration
	plant           string
}

func (c *common) register(fs *flag.FlagSet, env Env) {
	fs.StringVar(&c.lake, "lake", env("LAKE_DSN"), "lake DSN (env LAKE_DSN)")
	fs.StringVar(&c.warehouse, "warehouse", env("WAREHOUSE_DSN"), "warehouse DSN (env WAREHOUSE_DSN)")
	fs.BoolVar(&c.json, "json", false, "JSON output")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "overall deadline")
	fs.StringVar(&c.plant, "plant", env(plant.Env), "planted defects (env "+plant.Env+")")
}

// command is one parsed invocation.
type command struct {
	name   string
	c      common
	plants plant.Set // parsed from c.plant
	// status
	maxLagSeconds   float64
	maxLagEvents    int64
	maxHeartbeatAge time.Duration
	// pause
	reason string
	// schema
	set int
	// backfill
	from, to bound
	source   string
	batch    int
	// wipe
	yes bool
}

// bound is a backfill window end: a seq or a time.
type bound struct {
	seq int64
	t   time.Time
	set bool
}

func (b *bound) String() string {
	switch {
	case !b.set:
		return ""
	case !b.t.IsZero():
		return b.t.Format(time.RFC3339Nano)
	}
	return strconv.FormatInt(b.seq, 10)
}

func (b *bound) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return fmt.Errorf("seq must be >= 0")
		}
		*b = bound{seq: n, set: true}
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("want a seq (integer) or an RFC 3339 time, got %q", s)
	}
	*b = bound{t: t, set: true}
	return nil
}

var commands = []string{"status", "pause", "resume", "schema", "backfill", "requeue-quarantine", "wipe"}

// spec is what a command adds to the common flags: its own flags, the check
// of their values, and whether it needs the lake.
type spec struct {
	flags    func(cmd *command, fs *flag.FlagSet)
	validate func(cmd *command) error
	needLake bool
}

var specs = map[string]spec{
	"status": {
		flags: func(cmd *command, fs *flag.FlagSet) {
			fs.Float64Var(&cmd.maxLagSeconds, "max-lag-seconds", 5, "")
			fs.Int64Var(&cmd.maxLagEvents, "max-lag-events", 0, "")
			fs.DurationVar(&cmd.maxHeartbeatAge, "max-heartbeat-age", 10*time.Second, "")
		},
		validate: func(cmd *command) error {
			if cmd.maxLagSeconds < 0 || cmd.maxLagEvents < 0 || cmd.maxHeartbeatAge < 0 {
				return usagef("status: thresholds must be >= 0")
			}
			return nil
		},
		needLake: true,
	},
	"pause": {flags: func(cmd *command, fs *flag.FlagSet) {
		fs.StringVar(&cmd.reason, "reason", "paused by operator", "")
	}},
	"resume": {},
	"wipe": {
		flags: func(cmd *command, fs *flag.FlagSet) { fs.BoolVar(&cmd.yes, "yes", false, "") },
		validate: func(cmd *command) error {
			if !cmd.yes {
				return usagef("wipe: refusing to empty the warehouse without --yes")
			}
			return nil
		},
	},
	"schema": {
		flags: func(cmd *command, fs *flag.FlagSet) { fs.IntVar(&cmd.set, "set", 0, "") },
		validate: func(cmd *command) error {
			if cmd.set != 0 && !schema.Valid(cmd.set) {
				return usagef("schema: --set %d: unknown version (this binary knows 1..%d)", cmd.set, schema.Latest)
			}
			return nil
		},
	},
	"backfill": {
		flags: func(cmd *command, fs *flag.FlagSet) {
			fs.Var(&cmd.from, "from", "")
			fs.Var(&cmd.to, "to", "")
			fs.StringVar(&cmd.source, "source", "", "")
			fs.IntVar(&cmd.batch, "batch", 1000, "")
		},
		validate: validateBackfill,
		needLake: true,
	},
	"requeue-quarantine": {
		flags:    func(cmd *command, fs *flag.FlagSet) { fs.IntVar(&cmd.batch, "batch", 500, "") },
		validate: validateBatch,
	},
}

// validateBackfill checks that both ends of the window are given, in order
// when they are of the same kind, and the batch size.
func validateBackfill(cmd *command) error {
	if !cmd.from.set || !cmd.to.set {
		return usagef("backfill: --from and --to are required")
	}
	if cmd.from.t.IsZero() == cmd.to.t.IsZero() { // same kind: check order
		if (cmd.from.t.IsZero() && cmd.from.seq > cmd.to.seq) || (!cmd.from.t.IsZero() && cmd.from.t.After(cmd.to.t)) {
			return usagef("backfill: --from %s is after --to %s", cmd.from.String(), cmd.to.String())
		}
	}
	return validateBatch(cmd)
}

func validateBatch(cmd *command) error {
	if cmd.batch <= 0 || cmd.batch > 10000 {
		return usagef("%s: --batch must be 1..10000", cmd.name)
	}
	return nil
}

// Parse parses args (without the program name). Errors are usage errors.
func Parse(args []string, env Env) (*command, error) {
	cmd := &command{}
	// common flags may come first
	pre := flag.NewFlagSet("pipelinectl", flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	cmd.c.register(pre, env)
	if err := pre.Parse(args); err != nil {
		return nil, usagef("%v", err)
	}
	rest := pre.Args()
	if len(rest) == 0 {
		return nil, usagef("missing command")
	}
	cmd.name = rest[0]
	sp, ok := specs[cmd.name]
	if !ok {
		return nil, usagef("unknown command %q (want one of %s)", cmd.name, strings.Join(commands, ", "))
	}
	if err := cmd.parseFlags(sp, rest[1:]); err != nil {
		return nil, err
	}
	if sp.validate != nil {
		if err := sp.validate(cmd); err != nil {
			return nil, err
		}
	}
	if err := cmd.checkDSNs(sp.needLake); err != nil {
		return nil, err
	}
	return cmd, nil
}

// parseFlags parses the command's flags, and the common ones again (with
// the values parsed before the command as defaults).
func (cmd *command) parseFlags(sp spec, args []string) error {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c0 := cmd.c
	fs.StringVar(&cmd.c.lake, "lake", c0.lake, "")
	fs.StringVar(&cmd.c.warehouse, "warehouse", c0.warehouse, "")
	fs.BoolVar(&cmd.c.json, "json", c0.json, "")
	fs.DurationVar(&cmd.c.timeout, "timeout", c0.timeout, "")
	fs.StringVar(&cmd.c.plant, "plant", c0.plant, "")
	if sp.flags != nil {
		sp.flags(cmd, fs)
	}
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", cmd.name, err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", cmd.name, fs.Arg(0))
	}
	if cmd.c.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	var err error
	if cmd.plants, err = plant.Parse(cmd.c.plant); err != nil {
		return usagef("--plant: %v", err)
	}
	return nil
}

// checkDSNs requires the warehouse DSN (and the lake's when the command
// needs the lake) and checks that they parse.
func (cmd *command) checkDSNs(needLake bool) error {
	if needLake && cmd.c.lake == "" {
		return usagef("%s: the lake DSN is required (--lake or LAKE_DSN)", cmd.name)
	}
	if cmd.c.warehouse == "" {
		return usagef("%s: the warehouse DSN is required (--warehouse or WAREHOUSE_DSN)", cmd.name)
	}
	if needLake {
		if _, err := pgxpool.ParseConfig(cmd.c.lake); err != nil {
			return usagef("%s: bad lake DSN: %v", cmd.name, err)
		}
	}
	if _, err := pgxpool.ParseConfig(cmd.c.warehouse); err != nil {
		return usagef("%s: bad warehouse DSN: %v", cmd.name, err)
	}
	return nil
}

// Main runs pipelinectl with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, env Env) int {
	cmd, err := Parse(args, env)
	if err != nil {
		fmt.Fprintf(stderr, "pipelinectl: %v\n\n%s", err, Usage)
		return ExitUsage
	}
	for _, d := range cmd.plants.List() {
		fmt.Fprintf(stderr, "pipelinectl: PLANTED DEFECT %s\n", d)
	}
	ctx, cancel := context.WithTimeout(ctx, cmd.c.timeout)
	defer cancel()
	out, code, err := cmd.run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "pipelinectl: %s: %v\n", cmd.name, err)
		if out == nil {
			out = map[string]any{"ok": false, "command": cmd.name, "error": err.Error()}
		}
		if code == ExitOK {
			code = ExitFailure
		}
	}
	if out != nil {
		if cmd.c.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(out)
		} else if t, ok := out.(interface{ Text() string }); ok {
			fmt.Fprint(stdout, t.Text())
		} else {
			b, _ := json.MarshalIndent(out, "", "  ")
			fmt.Fprintln(stdout, string(b))
		}
	}
	return code
}

type conns struct {
	lake, wh *pgxpool.Pool
}

func (c *conns) close() {
	if c.lake != nil {
		c.lake.Close()
	}
	if c.wh != nil {
		c.wh.Close()
	}
}

func (cmd *command) open(ctx context.Context, lake bool) (*conns, error) {
	cs := &conns{}
	var err error
	if cs.wh, err = store.Open(ctx, cmd.c.warehouse, 4); err != nil {
		return cs, fmt.Errorf("warehouse: %w", err)
	}
	if err := store.MigrateWarehouse(ctx, cs.wh); err != nil {
		return cs, fmt.Errorf("warehouse unreachable: %w", err)
	}
	if lake {
		if cs.lake, err = store.Open(ctx, cmd.c.lake, 4); err != nil {
			return cs, fmt.Errorf("lake: %w", err)
		}
		if err := store.MigrateLake(ctx, cs.lake); err != nil {
			return cs, fmt.Errorf("lake unreachable: %w", err)
		}
	}
	return cs, nil
}

func (cmd *command) run(ctx context.Context) (any, int, error) {
	switch cmd.name {
	case "status":
		return cmd.status(ctx)
	case "pause", "resume":
		return cmd.pauseResume(ctx)
	case "schema":
		return cmd.schema(ctx)
	case "backfill":
		return cmd.backfill(ctx)
	case "requeue-quarantine":
		return cmd.requeue(ctx)
	case "wipe":
		return cmd.wipe(ctx)
	}
	return nil, ExitUsage, usagef("unknown command %q", cmd.name)
}
