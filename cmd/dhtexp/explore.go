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
start, on the same protocol code the simulator runs, and reports an event sequence to each
kind of safety violation or bad final state. With --timers any protocol timer may fire at any
point, and the search also checks that an end (every join over, no lock held, no timer armed)
stays reachable from every state; with --lossy any message may also be lost.

--search bfs (the default) reports shortest sequences but keeps the whole frontier in memory;
--search dfs keeps only 62-bit fingerprints of the states seen (8 bytes each) and the current
path, and prints the bound on the probability that two states shared a fingerprint.

--prune-ignored forgets every in-flight message that its addressee ignores for good
(predlock-retry says which, docs/protocol.md): same findings in far fewer states. The search
checks, on every node transition it makes, that what a node ignored stays ignored, and reports
broken_ignore if not.

--subsume (with --lossy and --search dfs) skips a state whose in-flight messages are all in
flight in an explored state with the same nodes and timers: under loss it has no future of
its own. The end check is then made once per such core, by a search of its own from the core
with nothing in flight. Same findings, fewer states. With --renumber-counters as well, a core's
insertion numbers are ranked among its own, and a flight is covered when its other numbers map
in order into those of an explored flight (docs/protocol.md): about a third of the cores on one member
and two newcomers. --workers N shares a subsuming search out among N goroutines: the same
findings and cores, counts that vary from run to run.

Examples:
  dhtexp explore --protocol seed                                  # the simple scenario, all contacts
  dhtexp explore --protocol predlock --bits 3 --members 0,3,6 --joiners 1,2,7
  dhtexp explore --protocol predlock-retry --bits 3 --members 0 --joiners 3,5 \
      --timers --lossy --retries 1 --max-states 0 --search dfs --prune-ignored --subsume \
      --renumber-counters --workers 2 --progress
`,
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
