// Package exploreflag declares the command line flags of "dhtexp explore" and reads them
// into explore.Config. It is apart from explore so that the model checker does not depend
// on a command line library.
package exploreflag

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/explore"
	"github.com/dhtexp/dhtexp/protocol"
)

// Flags are the flags of "dhtexp explore".
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "protocol", Value: "seed", Usage: "protocol variant: " + strings.Join(protocol.VariantNames(), " | ")},
		&cli.UintFlag{Name: "bits", Value: 6, Usage: "ID space is 2^bits"},
		&cli.StringFlag{Name: "members", Value: "1,49,50", Usage: "comma-separated IDs of the initial ring"},
		&cli.StringFlag{Name: "joiners", Value: "2,3", Usage: "comma-separated IDs of the newcomers"},
		&cli.BoolFlag{Name: "fixed-contacts", Usage: "joiner i contacts member i mod m instead of trying every contact"},
		&cli.IntFlag{Name: "max-states", Value: 5_000_000, Usage: "bound on distinct states per contact assignment (0: none)"},
		&cli.BoolFlag{Name: "timers", Usage: "let protocol timers fire at any point (variants that retry)"},
		&cli.BoolFlag{Name: "lossy", Usage: "also let any in-flight message be lost"},
		&cli.IntFlag{Name: "retries", Usage: "retries for variants that retry (0: the variant's own)"},
		&cli.BoolFlag{Name: "renumber-counters", Usage: "renumber insertion numbers and timer epochs by rank in the state key (predlock-retry: same findings, fewer states, more CPU a state)"},
		&cli.BoolFlag{Name: "prune-ignored", Usage: "forget in-flight messages their addressee ignores for ever (predlock-retry: same findings, far fewer states; the permanence is checked as the search goes)"},
		&cli.BoolFlag{Name: "subsume", Usage: "with --lossy and --search dfs: do not explore a state whose in-flight messages are all in flight in an explored state with the same nodes and timers (the same violations and final rings; a no_end found is to be confirmed without it)"},
		&cli.IntFlag{Name: "workers", Value: 1, Usage: "with --subsume: goroutines that share the search out (its counts then vary from run to run, its findings do not)"},
		&cli.BoolFlag{Name: "progress", Usage: "dfs: a line on standard error every 5 million states"},
		&cli.StringFlag{Name: "search", Value: explore.SearchBFS, Usage: "search order: bfs (shortest counterexamples; memory grows with the frontier) | dfs (memory: the visited fingerprints and one path)"},
	}
}

// Config reads the flags of Flags and validates the configuration; every error is one in
// the flags' values.
func Config(c *cli.Context) (explore.Config, error) {
	members, err := parseIDs("members", c.String("members"))
	if err != nil {
		return explore.Config{}, err
	}
	joiners, err := parseIDs("joiners", c.String("joiners"))
	if err != nil {
		return explore.Config{}, err
	}
	cfg := explore.Config{Protocol: c.String("protocol"), Bits: c.Uint("bits"), Members: members,
		Joiners: joiners, AllContacts: !c.Bool("fixed-contacts"), MaxStates: c.Int("max-states"),
		Timers: c.Bool("timers"), Lossy: c.Bool("lossy"), Retries: c.Int("retries"), Search: c.String("search"),
		RenumberCounters: c.Bool("renumber-counters"), PruneIgnored: c.Bool("prune-ignored"), Subsume: c.Bool("subsume"), Workers: c.Int("workers")}
	if c.Bool("progress") {
		cfg.Progress = c.App.ErrWriter
	}
	return cfg, cfg.Validate()
}

// parseIDs reads the IDs of --members or --joiners.
func parseIDs(flag, s string) ([]protocol.ID, error) {
	ids, err := explore.ParseIDs(s)
	if err != nil {
		return nil, fmt.Errorf("--%s: %v", flag, err)
	}
	return ids, nil
}
