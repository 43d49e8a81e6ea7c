// Package cliutil is the plumbing that every dhtexp subcommand shares: the errors that
// choose the process's exit status, the application that turns urfave/cli's flag errors
// into them, and the reading of flags given after the first positional argument.
package cliutil

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/urfave/cli/v2"
)

// Exit codes: 1 is a result the user asked to be told about (a failing check), 2 is input
// that cannot be used.
const (
	ExitFailure  = 1
	ExitBadInput = 2
	// ExitInterrupted is the conventional status of a program stopped by SIGINT.
	ExitInterrupted = 130
)

// usageError marks errors in flags or arguments; they exit with ExitBadInput.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// Usage marks err as an error in flags or arguments.
func Usage(err error) error { return usageError{err} }

// Usagef is Usage of a formatted error.
func Usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitError carries an explicit exit code with a message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// Exit gives err the exit status code.
func Exit(code int, err error) error { return exitError{code, err} }

// ExitCode is the process status for an error a command returned: the code an Exit error
// carries, ExitBadInput for usage errors, a cli.ExitCoder's own, else ExitFailure.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue usageError
	if errors.As(err, &ue) {
		return ExitBadInput
	}
	var ce cli.ExitCoder
	if errors.As(err, &ce) {
		return ce.ExitCode()
	}
	return ExitFailure
}

// NewApp is an application of the commands, sorted by name, whose flag errors are usage
// errors and whose errors are left to the caller to print and map to an exit status.
func NewApp(name, usage string, commands []*cli.Command, stdout, stderr io.Writer) *cli.App {
	sorted := append([]*cli.Command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, c := range sorted {
		if c.OnUsageError == nil {
			c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
		}
	}
	return &cli.App{
		Name:                 name,
		Usage:                usage,
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

// LateFlags parses the flags that follow the first positional argument, which urfave/cli
// leaves in Args, so that "dhtexp sweep SPEC -o DIR" works like "dhtexp sweep -o DIR SPEC".
// It returns the positional arguments.
func LateFlags(c *cli.Context) ([]string, error) {
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

// Interspersed is LateFlags for commands that need at least one positional argument, what:
// their usage lines put flags after it, and urfave/cli v2 stops reading flags at the first
// positional argument.
func Interspersed(c *cli.Context, what string) ([]string, error) {
	pos, err := LateFlags(c)
	if err != nil {
		return nil, err
	}
	if len(pos) == 0 {
		return nil, Usagef("%s needs %s (usage: %s %s %s)", c.Command.Name, what, c.App.Name, c.Command.Name, c.Command.ArgsUsage)
	}
	return pos, nil
}
