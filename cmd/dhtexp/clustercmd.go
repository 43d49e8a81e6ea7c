package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/cluster"
	"github.com/dhtexp/dhtexp/cluster/clusterflag"
	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/observe"
)

func init() {
	commands = append(commands, clusterCommand())
}

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:      "cluster",
		Usage:     "run a ring of real node processes on loopback and judge the joins (and, with churn, the repair)",
		ArgsUsage: " ",
		Description: `Starts members+joiners "dhtexp node" processes on 127.0.0.1, lays out a ring of the
members, lets every joiner join at once through a random member (seeded), waits until the
ring is quiet or the deadline passes, reads every node's status and judges the ring as the
simulator does. It writes a result set (docs/results.md, docs/nodes.md): the merged events,
a joins table and a runs row, plus each node's log and raw trace under nodes/. Every
process it started is stopped before it returns, also on error or Ctrl-C. Exits 1 when the
outcome is not ok.

With --keys it then puts that many keys through random nodes; with --churn-kill and
--churn-start (variant repair) it kills nodes with SIGKILL and starts new ones, one event
every --churn-interval, waits up to --churn-settle stabilization periods for the ring to
repair itself, and judges the live nodes' ring and every key: reachable by a get, with
min(replicas+1, live nodes) live copies (docs/nodes.md#churn).

Examples:
  dhtexp cluster --members 8 --joiners 24
  dhtexp cluster --members 32 --joiners 96 --protocol seed --seed 3 -o /tmp/c
  dhtexp cluster --protocol repair --nodes 32 --joiners 0 --replicas 2 --stabilize 200ms \
    --keys 64 --churn-kill 8 --churn-interval 600ms`,
		Flags:  clusterflag.Flags(),
		Action: clusterAction,
	}
}

func clusterAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usagef("cluster takes no arguments, got %q", c.Args().Slice())
	}
	o, err := clusterflag.Options(c)
	if err != nil {
		return cliutil.Usage(err)
	}
	if o.Exe, err = os.Executable(); err != nil {
		return err
	}
	o.Log = c.App.ErrWriter
	ctx, stop := cliutil.SignalContext(c.Context, false)
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
