package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/stress"
)

func init() {
	commands = append(commands, stressCommand())
}

func stressCommand() *cli.Command {
	d := stress.DefaultBounds("predlock")
	return &cli.Command{
		Name:      "stress",
		Usage:     "swarm testing: run many seeds, each drawing its own small configuration, and judge the variant's promise",
		ArgsUsage: " ",
		Description: `Every seed draws a configuration within the bounds: ring size and ID space, layout,
contact rule, start rule, delay distribution, link model, leavers and (with --faults) a
fault mix. Each runs in the simulator on all cores and is judged against what the variant
promises (docs/experiments.md). Prints the runs, how many kept the promise, the outcome
counts, and for each failure its seed, outcome and a 'dhtexp replay' command that reruns
it exactly. Ctrl-C stops within a second and prints what ran.

Exit status: 0 every run kept its promise, 1 some run did not, 2 bad input,
130 interrupted without a failure.

Examples:
  dhtexp stress --protocol predlock --seeds 100000
  dhtexp stress --protocol predlock-retry --faults --seeds 100000
  dhtexp stress --protocol predlock --seeds 1000000 --shard 2/8`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "protocol", Value: d.Protocol, Usage: "protocol variant: " + strings.Join(protocol.VariantNames(), " | ")},
			&cli.Uint64Flag{Name: "seeds", Value: 10_000, Usage: "number of seeds"},
			&cli.Uint64Flag{Name: "first-seed", Value: 1, Usage: "the first seed"},
			&cli.BoolFlag{Name: "faults", Usage: "draw a fault mix per seed (loss, duplication, reordering, spikes, a partition, a crash)"},
			&cli.IntFlag{Name: "max-nodes", Value: d.MaxNodes, Usage: "initial members: 1..N"},
			&cli.IntFlag{Name: "max-joiners", Value: d.MaxJoiners, Usage: "newcomers: 1..N"},
			&cli.IntFlag{Name: "max-leavers", Value: d.MaxLeavers, Usage: "graceful leavers, variants with a leave exchange: 0..N"},
			&cli.DurationFlag{Name: "max-delay", Value: time.Duration(d.MaxDelay), Usage: "largest typical message delay"},
			&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), Usage: "parallel runs"},
			&cli.StringFlag{Name: "shard", Usage: "run slice `I/N` of the seeds (as dhtexp sweep --shard)"},
			&cli.IntFlag{Name: "max-failures", Value: 20, Usage: "failures to print (all are counted)"},
			&cli.DurationFlag{Name: "progress-every", Value: 10 * time.Second, Usage: "interval of progress lines when stderr is not a terminal"},
		},
		Action: stressAction,
	}
}

func stressAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usagef("stress takes no arguments, got %q", c.Args().Slice())
	}
	b := stress.Bounds{Protocol: c.String("protocol"), MaxNodes: c.Int("max-nodes"), MaxJoiners: c.Int("max-joiners"),
		MaxLeavers: c.Int("max-leavers"), MaxDelay: int64(c.Duration("max-delay")), Faults: c.Bool("faults")}
	if v, err := protocol.Lookup(b.Protocol); err == nil && !v.Leaves && !c.IsSet("max-leavers") {
		b.MaxLeavers = 0 // the default names leavers only for variants that can leave
	}
	if err := b.Validate(); err != nil {
		return usagef("--%v", err)
	}
	o := stress.Options{First: c.Uint64("first-seed"), Count: c.Uint64("seeds"), ShardCount: 1,
		Workers: c.Int("workers"), MaxFailures: c.Int("max-failures")}
	switch {
	case o.Count < 1:
		return usagef("--seeds must be at least 1")
	case o.Workers < 1:
		return usagef("--workers must be at least 1")
	case o.MaxFailures < 1:
		return usagef("--max-failures must be at least 1")
	}
	if v := c.String("shard"); v != "" {
		s, err := runner.ParseShard(v)
		if err != nil {
			return usagef("--shard: %v", err)
		}
		o.ShardIndex, o.ShardCount = s.Index, s.Count
	}
	stderr := c.App.ErrWriter
	f, isFile := stderr.(*os.File)
	o.Progress = runner.NewProgress(stderr, "stress "+b.Protocol, isFile && term.IsTerminal(int(f.Fd())), c.Duration("progress-every"))

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
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
