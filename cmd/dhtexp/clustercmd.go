package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/cluster"
	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

func init() {
	commands = append(commands, clusterCommand())
}

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:      "cluster",
		Usage:     "run a ring of real node processes on loopback and judge the joins",
		ArgsUsage: " ",
		Description: `Starts members+joiners "dhtexp node" processes on 127.0.0.1, lays out a ring of the
members, lets every joiner join at once through a random member (seeded), waits until the
ring is quiet or the deadline passes, reads every node's status and judges the ring as the
simulator does. It writes a result set (docs/results.md, docs/nodes.md): the merged events,
a joins table and a runs row, plus each node's log and raw trace under nodes/. Every
process it started is stopped before it returns, also on error or Ctrl-C. Exits 1 when the
outcome is not ok.

Examples:
  dhtexp cluster --members 8 --joiners 24
  dhtexp cluster --members 32 --joiners 96 --protocol seed --seed 3 -o /tmp/c`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "members", Value: 8, Usage: "nodes of the initial ring"},
			&cli.IntFlag{Name: "joiners", Value: 24, Usage: "nodes that join at once"},
			&cli.StringFlag{Name: "protocol", Value: defaultNodeProtocol, Usage: "protocol variant: " + strings.Join(protocol.VariantNames(), " | ")},
			timeoutFlag(), retriesFlag(),
			&cli.UintFlag{Name: "bits", Value: 16, Usage: "ID space is 2^bits"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the IDs and contacts"},
			&cli.DurationFlag{Name: "deadline", Value: 30 * time.Second, Usage: "give the joins this long to settle"},
			&cli.StringFlag{Name: "build", Value: "prebuilt", Usage: "prebuilt (members start as a correct ring) | join (members join one at a time through the first)"},
			&cli.DurationFlag{Name: "peer-timeout", Value: 2 * time.Second, Usage: "nodes' --peer-timeout"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "nodes' --log-level (their logs go to nodes/ID.log)"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "result folder (default: results/cluster-PROTOCOL-mM-kK-sSEED); must not exist or be empty"},
			secretFileFlag(),
		},
		Action: clusterAction,
	}
}

func clusterOptions(c *cli.Context) (cluster.Options, error) {
	o := cluster.Options{Members: c.Int("members"), Joiners: c.Int("joiners"), Protocol: c.String("protocol"),
		Bits: c.Uint("bits"), Seed: c.Uint64("seed"), Deadline: c.Duration("deadline"), Build: c.String("build"),
		PeerTimeout: c.Duration("peer-timeout"), LogLevel: c.String("log-level"), Out: c.String("out"),
		Timeout: c.Duration("timeout"), Retries: c.Int("retries")}
	if c.Args().Len() > 0 {
		return o, usagef("cluster takes no arguments, got %q", c.Args().Slice())
	}
	// Without one given, the run draws its own.
	secret, err := readSecret(c)
	if err != nil {
		return o, err
	}
	o.Secret = secret
	if err := o.Validate(); err != nil {
		return o, cliutil.Usage(err)
	}
	return o, nil
}

func clusterAction(c *cli.Context) error {
	o, err := clusterOptions(c)
	if err != nil {
		return err
	}
	if o.Exe, err = os.Executable(); err != nil {
		return err
	}
	o.Log = c.App.ErrWriter
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := cluster.Run(ctx, o)
	if ctx.Err() != nil {
		return cliutil.Exit(exitInterrupted, errors.New("interrupted; every node process was stopped"))
	}
	if err != nil {
		return err
	}
	res.Print(c.App.Writer, &o)
	if res.Outcome != observe.OutcomeOK {
		return cliutil.Exit(exitFailure, fmt.Errorf("outcome %s", res.Outcome))
	}
	return nil
}
