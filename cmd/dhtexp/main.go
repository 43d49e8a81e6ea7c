// Command dhtexp simulates, sweeps, analyses and runs for real a DHT ring join protocol.
//
// Each subcommand lives in its own file and registers itself in commands; main only parses
// and dispatches, so the packages underneath stay usable as libraries.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
)

// Exit codes: 1 is a result the user asked to be told about (a failing check), 2 is input
// that cannot be used, 130 a stop by SIGINT.
const (
	exitFailure     = cliutil.ExitFailure
	exitBadInput    = cliutil.ExitBadInput
	exitInterrupted = cliutil.ExitInterrupted
)

var commands []*cli.Command

// usagef marks errors in flags or arguments; they exit with exitBadInput. lateFlags and
// interspersed read flags given after the first positional argument.
var (
	usagef       = cliutil.Usagef
	lateFlags    = cliutil.LateFlags
	interspersed = cliutil.Interspersed
)

// run is main without the process exit, so tests drive the CLI end to end.
func run(args []string, stdout, stderr io.Writer) int {
	app := cliutil.NewApp("dhtexp", "study how a DHT ring behaves when many nodes join at once", commands, stdout, stderr)
	err := app.Run(args)
	if err != nil {
		fmt.Fprintln(stderr, "dhtexp:", err)
	}
	return cliutil.ExitCode(err)
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}
