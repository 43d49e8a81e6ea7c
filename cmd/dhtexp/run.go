package main

import (
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/dhtexp/dhtexp/protocol"
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
  dhtexp run --scenario simple --seeds 1000
  dhtexp run --scenario random --nodes 64 --joiners 16 --timing async --delay uniform --delay-min 1ms --delay-max 20ms --seeds 500`,
		Flags:  simFlags(),
		Action: runAction,
	}
}

// simFlags names everything a simulated run has; run, replay and shrink share them.
func simFlags() []cli.Flag {
	d := sim.DefaultConfig()
	return []cli.Flag{
		&cli.StringFlag{Name: "scenario", Value: d.Scenario, Usage: "simple | advanced | random"},
		&cli.IntFlag{Name: "nodes", Value: d.Nodes, Usage: "advanced: n (n-1 nodes in all); random: initial ring members"},
		&cli.IntFlag{Name: "joiners", Value: d.Joiners, Usage: "random: newcomers"},
		&cli.DurationFlag{Name: "join-window", Value: 0, Usage: "newcomers start at times spread over this window"},
		&cli.UintFlag{Name: "bits", Value: d.Bits, Usage: "ID space is 2^bits"},
		&cli.StringFlag{Name: "protocol", Value: d.Protocol, Usage: "protocol variant: " + strings.Join(protocol.VariantNames(), " | ")},
		&cli.StringFlag{Name: "timing", Value: d.Timing, Usage: "seed (the original's blocking sends and polling) | async (message passing)"},
		&cli.DurationFlag{Name: "unit", Value: time.Duration(d.Unit), Usage: "the seed timing model's time unit"},
		&cli.StringFlag{Name: "delay", Value: d.Delay.Kind, Usage: "delay distribution: " + strings.Join(sim.DelayKinds, " | ")},
		&cli.DurationFlag{Name: "delay-value", Usage: "constant delay"},
		&cli.DurationFlag{Name: "delay-min", Value: time.Duration(d.Delay.Min), Usage: "uniform, uniform-int: smallest delay"},
		&cli.DurationFlag{Name: "delay-max", Value: time.Duration(d.Delay.Max), Usage: "uniform, uniform-int: largest delay"},
		&cli.DurationFlag{Name: "delay-step", Usage: "uniform-int: granularity (default: the unit)"},
		&cli.DurationFlag{Name: "delay-mean", Usage: "exponential: mean delay"},
		&cli.DurationFlag{Name: "delay-median", Usage: "lognormal: median delay"},
		&cli.Float64Flag{Name: "delay-sigma", Usage: "lognormal: shape"},
		&cli.StringFlag{Name: "link", Value: d.Link, Usage: "async links: fifo | reorder"},
		&cli.DurationFlag{Name: "horizon", Value: time.Duration(d.Horizon), Usage: "nothing at or after this virtual time happens"},
		&cli.Int64Flag{Name: "max-messages", Value: d.MaxMessages, Usage: "message budget; exceeding it ends the run as a livelock"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "run seed (the first seed with --seeds)"},
		&cli.IntFlag{Name: "seeds", Value: 1, Usage: "number of seeds; more than one prints a summary"},
		&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), Usage: "parallel runs with --seeds"},
		&cli.DurationFlag{Name: "timeout", Usage: "variants that retry: how long a node waits for an answer (default: the variant's)"},
		&cli.IntFlag{Name: "retries", Usage: "variants that retry: attempts without progress before giving up (default: the variant's)"},
		&cli.Float64Flag{Name: "loss", Usage: "faults: probability that a message is lost"},
		&cli.Float64Flag{Name: "duplicate", Usage: "faults: probability that a message is delivered twice"},
		&cli.DurationFlag{Name: "reorder-window", Usage: "faults: extra uniform delay in [0, window] per message"},
		&cli.Float64Flag{Name: "spike-prob", Usage: "faults: probability of a delay spike"},
		&cli.DurationFlag{Name: "spike", Usage: "faults: extra delay of a spike"},
		&cli.StringFlag{Name: "crash-node", Usage: "faults: random | member | joiner | an ID"},
		&cli.DurationFlag{Name: "crash-at", Usage: "faults: when the node crashes"},
		&cli.StringFlag{Name: "crash-after", Usage: "faults: crash right after sending this message type instead"},
		&cli.DurationFlag{Name: "restart-after", Usage: "faults: bring the crashed node back after this long"},
		&cli.Float64Flag{Name: "partition-fraction", Usage: "faults: share of nodes cut off by a partition"},
		&cli.DurationFlag{Name: "partition-at", Usage: "faults: when the partition starts"},
		&cli.DurationFlag{Name: "heal-at", Usage: "faults: when it heals (0: never)"},
		&cli.BoolFlag{Name: "no-check", Usage: "skip the per-event safety checker (end-of-run checks still run)"},
		&cli.IntFlag{Name: "leavers", Usage: "random scenario, predlock: initial members that leave gracefully during the join window"},
		&cli.IntFlag{Name: "keys", Usage: "DHT workload: keys stored from the start (0 with --rate 0: no workload; needs --timing async)"},
		&cli.Float64Flag{Name: "rate", Usage: "DHT workload: client operations per second of virtual time"},
		&cli.Float64Flag{Name: "lookup", Value: d.Workload.Lookup, Usage: "DHT workload: weight of lookups in the mix"},
		&cli.Float64Flag{Name: "get", Value: d.Workload.Get, Usage: "DHT workload: weight of gets in the mix"},
		&cli.Float64Flag{Name: "put", Value: d.Workload.Put, Usage: "DHT workload: weight of puts in the mix"},
		&cli.StringFlag{Name: "popularity", Value: d.Workload.Popularity, Usage: "DHT workload: uniform | zipf"},
		&cli.Float64Flag{Name: "zipf-s", Value: d.Workload.ZipfS, Usage: "DHT workload: zipf exponent (> 1)"},
		&cli.DurationFlag{Name: "before", Usage: "DHT workload: operations start this long before the joins"},
		&cli.DurationFlag{Name: "after", Usage: "DHT workload: and go on this long after the last join ended"},
		&cli.DurationFlag{Name: "finger-period", Value: time.Duration(d.Workload.FingerPeriod), Usage: "DHT workload: how often a node refreshes one finger (0: no fingers)"},
		&cli.StringFlag{Name: "fingers", Value: d.Workload.Fingers, Usage: "DHT workload: fresh | empty fingers at the initial members"},
		&cli.IntFlag{Name: "hop-budget", Usage: "DHT workload: forwards before an operation fails (default: the protocol's)"},
		&cli.DurationFlag{Name: "op-timeout", Usage: "DHT workload: how long a client waits for an answer (default: the protocol's)"},
		&cli.IntFlag{Name: "replicas", Usage: "DHT workload: successors of a key's owner that keep a copy"},
		&cli.StringFlag{Name: "color", Value: "auto", Usage: "auto | always | never"},
	}
}

func configFromFlags(c *cli.Context) (sim.Config, error) {
	cfg := sim.DefaultConfig()
	cfg.Scenario = c.String("scenario")
	cfg.Nodes = c.Int("nodes")
	cfg.Joiners = c.Int("joiners")
	cfg.JoinWindow = int64(c.Duration("join-window"))
	cfg.Bits = c.Uint("bits")
	cfg.Protocol = c.String("protocol")
	cfg.Timing = c.String("timing")
	cfg.Unit = int64(c.Duration("unit"))
	cfg.Delay = sim.Delay{
		Kind:   c.String("delay"),
		Value:  int64(c.Duration("delay-value")),
		Min:    int64(c.Duration("delay-min")),
		Max:    int64(c.Duration("delay-max")),
		Step:   int64(c.Duration("delay-step")),
		Mean:   int64(c.Duration("delay-mean")),
		Median: int64(c.Duration("delay-median")),
		Sigma:  c.Float64("delay-sigma"),
	}
	cfg.Link = c.String("link")
	cfg.Horizon = int64(c.Duration("horizon"))
	cfg.MaxMessages = c.Int64("max-messages")
	cfg.Seed = c.Uint64("seed")
	cfg.NoCheck = c.Bool("no-check")
	cfg.Timeout = int64(c.Duration("timeout"))
	cfg.Retries = c.Int("retries")
	cfg.Faults = sim.Faults{
		Loss:              c.Float64("loss"),
		Duplicate:         c.Float64("duplicate"),
		ReorderWindow:     int64(c.Duration("reorder-window")),
		SpikeProb:         c.Float64("spike-prob"),
		Spike:             int64(c.Duration("spike")),
		CrashNode:         c.String("crash-node"),
		CrashAt:           int64(c.Duration("crash-at")),
		CrashAfter:        c.String("crash-after"),
		RestartAfter:      int64(c.Duration("restart-after")),
		PartitionFraction: c.Float64("partition-fraction"),
		PartitionAt:       int64(c.Duration("partition-at")),
		HealAt:            int64(c.Duration("heal-at")),
	}
	cfg.Leavers = c.Int("leavers")
	cfg.Workload = sim.Workload{
		Keys:         c.Int("keys"),
		Rate:         c.Float64("rate"),
		Lookup:       c.Float64("lookup"),
		Get:          c.Float64("get"),
		Put:          c.Float64("put"),
		Popularity:   c.String("popularity"),
		ZipfS:        c.Float64("zipf-s"),
		Before:       int64(c.Duration("before")),
		After:        int64(c.Duration("after")),
		FingerPeriod: int64(c.Duration("finger-period")),
		Fingers:      c.String("fingers"),
		HopBudget:    c.Int("hop-budget"),
		OpTimeout:    int64(c.Duration("op-timeout")),
		Replicas:     c.Int("replicas"),
	}
	if n := c.Int("seeds"); n < 1 {
		return cfg, usagef("--seeds must be at least 1, got %d", n)
	}
	if w := c.Int("workers"); w < 1 {
		return cfg, usagef("--workers must be at least 1, got %d", w)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usagef("%v", err)
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
	color, err := wantColor(c.String("color"), c.App.Writer)
	if err != nil {
		return err
	}
	if c.Int("seeds") == 1 {
		return runOne(c.App.Writer, cfg, color)
	}
	runlog.Many(c.App.Writer, cfg, c.Int("seeds"), c.Int("workers"), color)
	return nil
}

func wantColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		if os.Getenv("NO_COLOR") != "" {
			return false, nil
		}
		f, ok := w.(*os.File)
		return ok && term.IsTerminal(int(f.Fd())), nil
	}
	return false, usagef("--color must be auto, always or never, got %q", mode)
}

// runOne prints one run's log; a configuration the simulator refuses is bad input.
func runOne(w io.Writer, cfg sim.Config, color bool) error {
	if err := runlog.One(w, cfg, color); err != nil {
		return usagef("%v", err)
	}
	return nil
}
