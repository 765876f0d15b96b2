// Command firedrill turns drill run files into reports, compares TTR
// between releases, draws the TTR trend across runs (labelled by release,
// with each drill's spread and budget, marking the runs compare flags
// against the previous one), and wipes resources that a killed drill left
// behind.
//
//	firedrill report  [--format html|md|junit|json] [-o FILE] RUN.json|DIR...
//	firedrill compare [--threshold 0.1] [--alpha 0.05] BASE HEAD
//	firedrill history [-o trend.svg] [--threshold 0.1] [--alpha 0.05] DIR...
//	firedrill wipe
//
// Exit codes: 0 success; 1 a significant TTR regression or a drill not
// restored in some head sample (compare), or a failed operation (wipe); 2 bad input: usage, or a missing, malformed or
// mismatched run file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1 // significant regression or head not restored, or an operation failed
	exitBadInput = 2 // usage error, or a missing, malformed or mismatched file
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli is the command line.
type cli struct {
	Report  reportCmd  `cmd:"" help:"Turn run files into one HTML, Markdown, JUnit XML or JSON report (runs are merged)."`
	Compare compareCmd `cmd:"" help:"Compare TTR between BASE and HEAD runs; exit 1 on a significant regression."`
	History historyCmd `cmd:"" help:"Draw each drill's TTR across runs as an SVG chart (median, interquartile band, budget), labelled by release, marking the runs compare flags."`
	Wipe    wipeCmd    `cmd:"" help:"Remove every firedrill-labelled container and network (what a killed drill left)."`
}

// env is what commands get: where to write, and the context to honour.
type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
}

// exitError carries an exit code other than the default for its kind.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as bad input (exit 2).
func badInput(err error) error { return &exitError{code: exitBadInput, err: err} }

// kongExit is how kong's exit requests (after --help) leave Parse.
type kongExit int

// run is the whole program, callable in process by tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	var c cli
	defer func() {
		if r := recover(); r != nil {
			k, ok := r.(kongExit)
			if !ok {
				panic(r)
			}
			code = int(k)
		}
	}()
	parser, err := kong.New(&c,
		kong.Name("firedrill"),
		kong.Description("Reports, TTR comparison and cleanup for firedrill chaos and recovery drills."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(kongExit(code)) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintf(stderr, "firedrill: %v\n", err)
		return exitFailure
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "firedrill: %v\n", err)
		fmt.Fprintln(stderr, "run 'firedrill --help' for usage")
		return exitBadInput
	}
	err = kctx.Run(&env{ctx: ctx, stdout: stdout, stderr: stderr})
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "firedrill: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "firedrill: %v\n", err)
	return exitFailure
}
