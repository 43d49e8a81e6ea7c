package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/cluster"
	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/runner/sweepflag"
)

func init() {
	commands = append(commands, sweepCommand(), validateCommand(), mergeCommand())
}

func sweepCommand() *cli.Command {
	return &cli.Command{
		Name:      "sweep",
		Usage:     "run an experiment spec's grid × seeds and write the results as Parquet",
		ArgsUsage: "SPEC",
		Description: `Runs every grid point of SPEC (experiments/*.toml) once per seed on all cores and
writes a result set: manifest.json plus runs/, joins/, ops/ and events/ parts (docs/results.md).
Ctrl-C stops cleanly; --resume continues a stopped or killed sweep without repeating or
losing a run. --shard I/N runs one slice of the experiment; "dhtexp merge" combines the
shards' folders and names any shard that is missing. Shards count from 0: the 3 shards of
--shard I/3 are 0/3, 1/3 and 2/3. Counting from 1 is spelled K-of-N: 1-of-3, 2-of-3, 3-of-3.

Examples:
  dhtexp sweep experiments/smoke.toml
  dhtexp sweep experiments/concurrency.toml --resume
  dhtexp sweep experiments/concurrency.toml --shard 2/8 -o /data/concurrency/shard-2   # the third of 8
  dhtexp sweep experiments/concurrency.toml --shard 3-of-8 -o /data/concurrency/shard-2 # the same
  dhtexp merge -o results/concurrency /data/concurrency/shard-*`,
		Flags:  sweepflag.Flags(),
		Action: sweepAction,
	}
}

func sweepAction(c *cli.Context) error {
	args, err := lateFlags(c)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("sweep: want one spec file, got %d arguments", len(args))
	}
	spec, err := runner.Load(args[0])
	if err != nil {
		return cliutil.Usage(err)
	}
	opts, from, err := sweepflag.Options(c, spec.Name, os.Getenv)
	if err != nil {
		return cliutil.Usage(err)
	}
	if from != "" {
		fmt.Fprintf(c.App.ErrWriter, "%s: shard %s from %s\n", spec.Name, opts.Shard, from)
	}
	opts.Real = cluster.InProcess{}
	stderr := c.App.ErrWriter
	// Said before the first run, while stopping costs nothing.
	for _, w := range spec.Estimate(opts.Trace).Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", spec.Name, w)
	}
	opts.Progress = sweepflag.Progress(c, spec.Name)

	runner.TuneGC()
	// A second Ctrl-C ends the process at once.
	ctx, stop := cliutil.SignalContext(c.Context, true)
	defer stop()
	sum, err := runner.Sweep(ctx, spec, opts)
	var ie *runner.InputError
	if errors.As(err, &ie) {
		return cliutil.Usage(err)
	}
	if sum != nil {
		rate := float64(sum.Done) / sum.Elapsed.Seconds()
		fmt.Fprintf(c.App.Writer, "%s: %d runs in %s (%.0f runs/s), %d not ok; %d of %d runs in %s\n",
			spec.Name, sum.Done, sum.Elapsed.Round(time.Millisecond), rate, sum.Failed, sum.Skipped+sum.Done, sum.Runs, sum.Dir)
	}
	if err != nil {
		return err
	}
	if sum.Interrupted {
		return cliutil.Exit(exitInterrupted, fmt.Errorf("interrupted; every run committed so far is kept: continue with --resume"))
	}
	return nil
}

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check experiment specs and print their grid sizes and estimated output and memory",
		Description: `For each SPEC: its grid points × seeds = runs, the size of its result set at the
spec's trace level and the memory of one run of its largest grid point, estimated from
constants measured on a 2-core machine (runner/estimate.go; rough, within a factor of a few).
A warning follows when the runs, the output or a run's memory is beyond what a workstation
does in a day; sweep prints the same warnings before it starts.`,
		ArgsUsage: "SPEC...",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("validate: want at least one spec file")
			}
			var errs []error
			for _, path := range c.Args().Slice() {
				spec, err := runner.Load(path)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				est := spec.Estimate(0)
				fmt.Fprintf(c.App.Writer, "%s: %s: %d points × %d seeds = %d runs (trace %s); %s\n",
					path, spec.Name, len(spec.Points), spec.Seeds, spec.Runs(), spec.Trace, est)
				for _, w := range est.Warnings {
					fmt.Fprintf(c.App.Writer, "%s: warning: %s\n", path, w)
				}
			}
			if len(errs) > 0 {
				return cliutil.Usage(errors.Join(errs...))
			}
			return nil
		},
	}
}

func mergeCommand() *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "combine the result sets of a sharded sweep into one",
		ArgsUsage: "SHARD_DIR...",
		Flags:     sweepflag.Merge(),
		Action: func(c *cli.Context) error {
			dirs, err := lateFlags(c)
			if err != nil {
				return err
			}
			if len(dirs) == 0 {
				return usagef("merge: want the shard folders to combine")
			}
			if c.String("out") == "" {
				return usagef("merge: -o OUT is required")
			}
			m, err := runner.Merge(c.String("out"), dirs)
			var ie *runner.InputError
			if errors.As(err, &ie) {
				return cliutil.Usage(err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s: %d runs from %d shard folders in %d parts → %s\n",
				m.Experiment, m.RunsDone(), len(dirs), len(m.Parts), c.String("out"))
			return nil
		},
	}
}
