package main

import (
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/params/paramflag"
	"github.com/dhtexp/dhtexp/runlog"
	"github.com/dhtexp/dhtexp/sim"
)

func init() {
	commands = append(commands, runCommand())
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "simulate one configuration for one seed (message log) or many (summary)",
		ArgsUsage: " ",
		Description: `With one seed, prints the message log, the final ring and the outcome.
With --seeds N, runs seeds seed..seed+N-1 on all cores and prints a summary.

Examples:
  dhtexp run --scenario simple --seed 7
  dhtexp run --scenario advanced --nodes 999 --horizon 10s --quiet
  dhtexp run --scenario simple --seeds 1000
  dhtexp run --scenario random --nodes 64 --joiners 16 --timing async --delay uniform --delay-min 1ms --delay-max 20ms --seeds 500`,
		Flags: append(simFlags(), &cli.BoolFlag{Name: "quiet",
			Usage: "with one seed: print the outcome and the counts only, no message log or final ring"}),
		Action: runAction,
	}
}

// simFlags names everything a simulated run has; run, replay and shrink share them.
var simFlags = paramflag.RunFlags

// configFromFlags reads the run parameters and the seed.
func configFromFlags(c *cli.Context) (sim.Config, error) {
	cfg, err := paramflag.Config(c)
	if err != nil {
		return cfg, cliutil.Usage(err)
	}
	return cfg, nil
}

func runAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usagef("run takes no arguments, got %q", c.Args().Slice())
	}
	cfg, err := configFromFlags(c)
	if err != nil {
		return err
	}
	color, err := paramflag.Color(c)
	if err != nil {
		return cliutil.Usage(err)
	}
	if c.Int("seeds") == 1 {
		if err := runlog.OneWith(c.App.Writer, cfg, runlog.Options{Color: color, Quiet: c.Bool("quiet")}); err != nil {
			return usagef("%v", err)
		}
		return nil
	}
	if os.Getenv("GOGC") == "" && cfg.Nodes+cfg.Joiners <= smallRun {
		// Small runs leave almost nothing alive, and at the collector's default pace a
		// summary of them spent a fifth of its time marking the program's own tables, every
		// few hundred runs. A larger heap goal costs them a few megabytes.
		defer debug.SetGCPercent(debug.SetGCPercent(summaryGCPercent))
	}
	runlog.Many(c.App.Writer, cfg, c.Int("seeds"), c.Int("workers"), color)
	return nil
}

// smallRun is the largest ring (members and newcomers) whose summaries get summaryGCPercent.
const (
	smallRun         = 1000
	summaryGCPercent = 800
)
