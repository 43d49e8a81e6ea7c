package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/runner/sweepflag"
	"github.com/dhtexp/dhtexp/stress"
	"github.com/dhtexp/dhtexp/stress/stressflag"
)

func init() {
	commands = append(commands, stressCommand())
}

func stressCommand() *cli.Command {
	return &cli.Command{
		Name:      "stress",
		Usage:     "swarm testing: run many seeds, each drawing its own small configuration, and judge the variant's promise",
		ArgsUsage: " ",
		Description: `Every seed draws a configuration within the bounds: ring size and ID space, layout,
contact rule, start rule, delay distribution, link model, leavers and (with --faults) a
fault mix; with --churn, a churn run (members, replicas, sessions, crash fraction, delays,
stabilization period) under churn.crash_guard, judged by its end check. Each runs in the simulator on all cores and is judged against what the variant
promises (docs/experiments.md). Prints the runs, how many kept the promise, the outcome
counts, and for each failure its seed, outcome and a 'dhtexp replay' command that reruns
it exactly. Ctrl-C stops within a second and prints what ran.

Exit status: 0 every run kept its promise, 1 some run did not, 2 bad input,
130 interrupted without a failure.

Examples:
  dhtexp stress --protocol predlock --seeds 100000
  dhtexp stress --protocol predlock-retry --faults --seeds 100000
  dhtexp stress --protocol repair --churn --seeds 100000
  dhtexp stress --protocol predlock --seeds 1000000 --shard 2/8`,
		Flags:  stressflag.Flags(),
		Action: stressAction,
	}
}

func stressAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usagef("stress takes no arguments, got %q", c.Args().Slice())
	}
	b, o, err := stressflag.Read(c)
	if err != nil {
		return cliutil.Usage(err)
	}
	o.Progress = sweepflag.Progress(c, "stress "+b.Protocol)

	ctx, stop := cliutil.SignalContext(c.Context, false)
	defer stop()
	sum, err := stress.Run(ctx, b, o)
	if err != nil {
		return cliutil.Usage(err)
	}
	sum.WriteText(c.App.Writer)
	switch {
	case sum.Kept < sum.Runs:
		return cliutil.Exit(exitFailure, fmt.Errorf("stress: %d of %d runs broke the promise of %s", sum.Runs-sum.Kept, sum.Runs, b.Protocol))
	case sum.Interrupted:
		return cliutil.Exit(exitInterrupted, fmt.Errorf("interrupted"))
	}
	return nil
}
