// Package stressflag declares the command line flags of "dhtexp stress" and reads them into
// stress.Bounds and stress.Options. It is apart from stress so that the library does not
// depend on a command line library.
package stressflag

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/runner/sweepflag"
	"github.com/dhtexp/dhtexp/stress"
)

// Flags are the flags of "dhtexp stress".
func Flags() []cli.Flag {
	d := stress.DefaultBounds("predlock")
	dc := stress.DefaultChurnBounds("repair")
	return []cli.Flag{
		&cli.StringFlag{Name: "protocol", Value: d.Protocol, Usage: "protocol variant: " + strings.Join(protocol.VariantNames(), " | ")},
		&cli.Uint64Flag{Name: "seeds", Value: 10_000, Usage: "number of seeds"},
		&cli.Uint64Flag{Name: "first-seed", Value: 1, Usage: "the first seed"},
		&cli.BoolFlag{Name: "faults", Usage: "draw a fault mix per seed (loss, duplication, reordering, spikes, a partition, a crash)"},
		&cli.IntFlag{Name: "max-nodes", Value: d.MaxNodes, Usage: "initial members: 1..N"},
		&cli.IntFlag{Name: "max-joiners", Value: d.MaxJoiners, Usage: "newcomers: 1..N"},
		&cli.IntFlag{Name: "max-leavers", Value: d.MaxLeavers, Usage: "graceful leavers, variants with a leave exchange: 0..N"},
		&cli.DurationFlag{Name: "max-delay", Value: time.Duration(d.MaxDelay), Usage: "largest typical message delay (--churn: " + time.Duration(dc.MaxDelay).String() + ")"},
		&cli.BoolFlag{Name: "churn", Usage: "draw a churn run per seed (sessions, crashes and graceful leaves, keys with replicas) and judge the end check: a correct ring, no key lost or under-replicated"},
		&cli.IntFlag{Name: "min-nodes", Value: dc.MinNodes, Usage: "--churn: initial members: min-nodes..max-nodes (max-nodes: " + fmt.Sprint(dc.MaxNodes) + ")"},
		&cli.IntFlag{Name: "min-replicas", Value: dc.MinReplicas, Usage: "--churn: r, the successor-list length and copies beyond the owner: min..max"},
		&cli.IntFlag{Name: "max-replicas", Value: dc.MaxReplicas, Usage: "--churn: see min-replicas"},
		&cli.IntFlag{Name: "crash-guard", Value: dc.CrashGuard, Usage: "--churn: churn.crash_guard in stabilization periods (0: crashes unguarded)"},
		sweepflag.Workers("parallel runs"),
		&cli.StringFlag{Name: "shard", Usage: "run slice `I/N` of the seeds (as dhtexp sweep --shard)"},
		&cli.IntFlag{Name: "max-failures", Value: 20, Usage: "failures to print (all are counted)"},
		sweepflag.ProgressEvery(),
	}
}

// Read reads the flags of Flags and checks them; every error is one in the flags' values.
// The options' Progress is left to the caller.
func Read(c *cli.Context) (stress.Bounds, stress.Options, error) {
	b := stress.Bounds{Protocol: c.String("protocol"), MaxNodes: c.Int("max-nodes"), MaxJoiners: c.Int("max-joiners"),
		MaxLeavers: c.Int("max-leavers"), MaxDelay: int64(c.Duration("max-delay")), Faults: c.Bool("faults")}
	if v, err := protocol.Lookup(b.Protocol); err == nil && !v.Leaves && !c.IsSet("max-leavers") {
		b.MaxLeavers = 0 // the default names leavers only for variants that can leave
	}
	if c.Bool("churn") {
		d := stress.DefaultChurnBounds(b.Protocol)
		b.Churn, b.MinNodes, b.MinReplicas, b.MaxReplicas, b.CrashGuard = true, c.Int("min-nodes"), c.Int("min-replicas"), c.Int("max-replicas"), c.Int("crash-guard")
		if !c.IsSet("max-nodes") {
			b.MaxNodes = d.MaxNodes
		}
		if !c.IsSet("max-delay") {
			b.MaxDelay = d.MaxDelay
		}
		for _, f := range []string{"max-joiners", "max-leavers"} {
			if c.IsSet(f) {
				return b, stress.Options{}, fmt.Errorf("--%s: a churn swarm brings its own newcomers and leavers", f)
			}
		}
	} else {
		for _, f := range []string{"min-nodes", "min-replicas", "max-replicas", "crash-guard"} {
			if c.IsSet(f) {
				return b, stress.Options{}, fmt.Errorf("--%s needs --churn", f)
			}
		}
	}
	o := stress.Options{First: c.Uint64("first-seed"), Count: c.Uint64("seeds"), ShardCount: 1,
		Workers: c.Int("workers"), MaxFailures: c.Int("max-failures")}
	if err := b.Validate(); err != nil {
		return b, o, fmt.Errorf("--%v", err)
	}
	switch {
	case o.Count < 1:
		return b, o, fmt.Errorf("--seeds must be at least 1")
	case o.Workers < 1:
		return b, o, fmt.Errorf("--workers must be at least 1")
	case o.MaxFailures < 1:
		return b, o, fmt.Errorf("--max-failures must be at least 1")
	}
	if v := c.String("shard"); v != "" {
		s, err := runner.ParseShard(v)
		if err != nil {
			return b, o, fmt.Errorf("--shard: %v", err)
		}
		o.ShardIndex, o.ShardCount = s.Index, s.Count
	}
	return b, o, nil
}
