package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/explore"
	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/protocol"
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
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "protocol", Value: "seed", Usage: "protocol variant: " + strings.Join(protocol.VariantNames(), " | ")},
			&cli.UintFlag{Name: "bits", Value: 6, Usage: "ID space is 2^bits"},
			&cli.StringFlag{Name: "members", Value: "1,49,50", Usage: "comma-separated IDs of the initial ring"},
			&cli.StringFlag{Name: "joiners", Value: "2,3", Usage: "comma-separated IDs of the newcomers"},
			&cli.BoolFlag{Name: "fixed-contacts", Usage: "joiner i contacts member i mod m instead of trying every contact"},
			&cli.IntFlag{Name: "max-states", Value: 5_000_000, Usage: "bound on distinct states per contact assignment (0: none)"},
			&cli.BoolFlag{Name: "timers", Usage: "let protocol timers fire at any point (variants that retry)"},
			&cli.BoolFlag{Name: "lossy", Usage: "also let any in-flight message be lost"},
			&cli.IntFlag{Name: "retries", Usage: "retries for variants that retry (0: the variant's own)"},
		},
		Action: func(c *cli.Context) error {
			members, err := parseIDs("members", c.String("members"))
			if err != nil {
				return err
			}
			joiners, err := parseIDs("joiners", c.String("joiners"))
			if err != nil {
				return err
			}
			cfg := explore.Config{Protocol: c.String("protocol"), Bits: c.Uint("bits"), Members: members,
				Joiners: joiners, AllContacts: !c.Bool("fixed-contacts"), MaxStates: c.Int("max-states"),
				Timers: c.Bool("timers"), Lossy: c.Bool("lossy"), Retries: c.Int("retries")}
			if err := cfg.Validate(); err != nil {
				return usagef("%v", err)
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

// parseIDs reads the IDs of --members or --joiners.
func parseIDs(flag, s string) ([]protocol.ID, error) {
	ids, err := explore.ParseIDs(s)
	if err != nil {
		return nil, usagef("--%s: %v", flag, err)
	}
	return ids, nil
}
