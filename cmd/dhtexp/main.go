// Command dhtexp simulates, sweeps, analyses and runs for real a DHT ring join protocol.
//
// Each subcommand lives in its own file and registers itself in commands; main only parses
// and dispatches, so the packages underneath stay usable as libraries.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/urfave/cli/v2"
)

// Exit codes: 1 is a result the user asked to be told about (a failing check), 2 is input
// that cannot be used.
const (
	exitFailure  = 1
	exitBadInput = 2
)

var commands []*cli.Command

// usageError marks errors in flags or arguments; they exit with exitBadInput.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitError carries an explicit exit code with a message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func newApp(stdout, stderr io.Writer) *cli.App {
	sorted := append([]*cli.Command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, c := range sorted {
		if c.OnUsageError == nil {
			c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
		}
	}
	return &cli.App{
		Name:                 "dhtexp",
		Usage:                "study how a DHT ring behaves when many nodes join at once",
		Commands:             sorted,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

// run is main without the process exit, so tests drive the CLI end to end.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "dhtexp:", err)
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitBadInput
	}
	var ce cli.ExitCoder
	if errors.As(err, &ce) {
		return ce.ExitCode()
	}
	return exitFailure
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// lateFlags parses the flags that follow the first positional argument, which urfave/cli
// leaves in Args, so that "dhtexp sweep SPEC -o DIR" works like "dhtexp sweep -o DIR SPEC".
// It returns the positional arguments.
func lateFlags(c *cli.Context) ([]string, error) {
	args := c.Args().Slice()
	if len(args) <= 1 {
		return args, nil
	}
	set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	canonical := map[string]string{}
	for _, f := range c.Command.Flags {
		if err := f.Apply(set); err != nil {
			return nil, err
		}
		for _, n := range f.Names() {
			canonical[n] = f.Names()[0]
		}
	}
	pos, rest := args[:1], args[1:]
	for len(rest) > 0 {
		if err := set.Parse(rest); err != nil {
			return nil, usageError{err}
		}
		rest = set.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	var err error
	set.Visit(func(f *flag.Flag) {
		if e := c.Set(canonical[f.Name], f.Value.String()); e != nil && err == nil {
			err = usageError{e}
		}
	})
	return pos, err
}
