package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/explore"
	"github.com/dhtexp/dhtexp/explore/exploreflag"
	"github.com/dhtexp/dhtexp/internal/cliutil"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:  "explore",
		Usage: "check a protocol exhaustively: every delivery order of a small configuration",
		Description: `Enumerates every order in which in-flight messages can be delivered and newcomers can
start, on the same protocol code the simulator runs, and reports the shortest event sequence to
each kind of safety violation or bad final state.

Examples:
  dhtexp explore --protocol seed                                  # the simple scenario, all contacts
  dhtexp explore --protocol predlock --bits 3 --members 0,3,6 --joiners 1,2,7`,
		Flags: exploreflag.Flags(),
		Action: func(c *cli.Context) error {
			cfg, err := exploreflag.Config(c)
			if err != nil {
				return cliutil.Usage(err)
			}
			rep, err := explore.Run(cfg)
			if err != nil {
				return err
			}
			fmt.Fprint(c.App.Writer, rep.Format(&cfg))
			if len(rep.Findings) > 0 {
				return cliutil.Exit(exitFailure, fmt.Errorf("%d kind(s) of counterexample found", len(rep.Findings)))
			}
			return nil
		},
	})
}
