// Package sweepflag declares the command line flags of "dhtexp sweep" and reads them into
// runner.Options; the flags for workers, shards and progress lines are shared with the
// other commands that run many simulations. It is apart from runner so that the library
// does not depend on a command line library.
package sweepflag

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/trace"
)

// Workers is --workers, parallel simulations on all cores by default.
func Workers(usage string) cli.Flag {
	return &cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), Usage: usage}
}

// ProgressEvery is --progress-every; Progress reads it.
func ProgressEvery() cli.Flag {
	return &cli.DurationFlag{Name: "progress-every", Value: 10 * time.Second, Usage: "interval of progress lines when stderr is not a terminal"}
}

// Progress reports on the command's stderr: a live line on a terminal, else a line every
// --progress-every.
func Progress(c *cli.Context, name string) runner.Progress {
	stderr := c.App.ErrWriter
	f, isFile := stderr.(*os.File)
	return runner.NewProgress(stderr, name, isFile && term.IsTerminal(int(f.Fd())), c.Duration("progress-every"))
}

// Flags are the flags of "dhtexp sweep".
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output folder (default: results/NAME, or results/NAME-shard-I when sharded)"},
		Workers("parallel simulations"),
		&cli.BoolFlag{Name: "resume", Usage: "continue the result set in the output folder (it must come from the same spec)"},
		&cli.StringFlag{Name: "shard", Usage: "run slice `I/N` of the experiment, I counting from 0 (0/N .. N-1/N), or K-of-N counting from 1; without it, from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID, else all"},
		&cli.IntFlag{Name: "shard-count", Usage: "number of shards when the index comes from JOB_COMPLETION_INDEX (or set DHTEXP_SHARDS)"},
		&cli.StringFlag{Name: "trace", Usage: "override the spec's trace level: none | joins | messages"},
		&cli.IntFlag{Name: "part-runs", Value: runner.DefaultPartRuns, Usage: "runs per part: a kill loses at most this many"},
		ProgressEvery(),
	}
}

// Options reads the flags of Flags for a sweep of the experiment name. Without --shard the
// shard comes from the environment (runner.ShardFromEnv); shardFrom then names the
// variable, else it is empty. Every error is one in the flags' values.
func Options(c *cli.Context, name string, getenv func(string) string) (opts runner.Options, shardFrom string, err error) {
	opts = runner.Options{Workers: c.Int("workers"), Resume: c.Bool("resume"), PartRuns: c.Int("part-runs")}
	if opts.Workers < 1 {
		return opts, "", fmt.Errorf("--workers must be at least 1")
	}
	if opts.PartRuns < 1 {
		return opts, "", fmt.Errorf("--part-runs must be at least 1")
	}
	if v := c.String("trace"); v != "" {
		if opts.Trace, err = trace.ParseLevel(v); err != nil {
			return opts, "", fmt.Errorf("--trace: %v", err)
		}
	}
	if v := c.String("shard"); v != "" {
		if opts.Shard, err = runner.ParseShard(v); err != nil {
			return opts, "", fmt.Errorf("--shard: %v", err)
		}
	} else if opts.Shard, shardFrom, err = runner.ShardFromEnv(getenv, c.Int("shard-count")); err != nil {
		return opts, "", err
	}
	opts.Dir = c.String("out")
	if opts.Dir == "" {
		opts.Dir = filepath.Join("results", name)
		if opts.Shard.Count > 1 {
			opts.Dir += fmt.Sprintf("-shard-%d", opts.Shard.Index)
		}
	}
	return opts, shardFrom, nil
}

// Merge are the flags of "dhtexp merge".
func Merge() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output folder (required); must not exist or be empty"},
	}
}
