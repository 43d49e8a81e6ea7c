package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/params/paramflag"
	"github.com/dhtexp/dhtexp/replay"
	"github.com/dhtexp/dhtexp/runlog"
	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "replay",
		Usage:     "rerun one run exactly: its log, its first violation, and a sequence diagram",
		ArgsUsage: "[RESULTS RUN_ID]",
		Description: `Reruns a run of a sweep (RESULTS RUN_ID) or the run the flags describe (same flags as
'dhtexp run'), prints its message log and outcome, and writes a sequence diagram as SVG
(one lifeline per node, time downward, the first violation highlighted).

Examples:
  dhtexp replay --scenario simple --seed 5 --svg run.svg
  dhtexp replay results/concurrency 1234 --svg run.svg`,
		Flags: append(simFlags(),
			&cli.StringFlag{Name: "svg", Usage: "write the sequence diagram to this file"},
			&cli.IntFlag{Name: "max-rows", Value: 4000, Usage: "cut the diagram after this many rows"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := replayConfig(c)
			if err != nil {
				return err
			}
			color, err := paramflag.Color(c)
			if err != nil {
				return cliutil.Usage(err)
			}
			// A configuration the simulator refuses is bad input.
			if err := runlog.One(c.App.Writer, cfg, color); err != nil {
				return usagef("%v", err)
			}
			path := c.String("svg")
			if path == "" {
				return nil
			}
			svg, err := replay.Diagram(cfg, c.Int("max-rows"))
			if err != nil {
				return err
			}
			if err := trace.WriteFileAtomic(path, svg); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "sequence diagram: %s\n", path)
			return nil
		},
	})
	commands = append(commands, &cli.Command{
		Name:      "shrink",
		Usage:     "reduce a failing run to a smaller configuration that fails the same way",
		ArgsUsage: "[RESULTS RUN_ID]",
		Description: `Takes a failing run (RESULTS RUN_ID, or the flags of 'dhtexp run') and greedily removes
joiners and members, narrows the delay spread, shortens the join window and drops faults,
keeping each reduction for which some seed still fails with the same outcome class. Prints
the command that replays the result.

Example:
  dhtexp shrink --scenario advanced --nodes 30 --horizon 5s --seed 3`,
		Flags: append(simFlags(),
			&cli.IntFlag{Name: "tries", Value: 200, Usage: "seeds tried per smaller configuration"},
			&cli.IntFlag{Name: "max-runs", Value: 200_000, Usage: "simulations allowed in all"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := replayConfig(c)
			if err != nil {
				return err
			}
			res, err := replay.Shrink(cfg, replay.ShrinkOptions{SeedsPerCandidate: c.Int("tries"), MaxRuns: c.Int("max-runs")})
			if err != nil {
				return usagef("%v", err)
			}
			res.WriteText(c.App.Writer)
			return nil
		},
	})
}

// replayConfig takes the run from RESULTS RUN_ID when given, else from the flags.
func replayConfig(c *cli.Context) (sim.Config, error) {
	args, err := lateFlags(c)
	if err != nil {
		return sim.Config{}, err
	}
	switch len(args) {
	case 0:
		return configFromFlags(c)
	case 2:
		cfg, err := runner.RunConfigArg(args[0], args[1])
		if err != nil {
			return sim.Config{}, usagef("%v", err)
		}
		return cfg, nil
	}
	return sim.Config{}, usagef("expected RESULTS RUN_ID or no arguments, got %q", args)
}
