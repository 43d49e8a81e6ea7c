package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/node/nodeflag"
)

func init() {
	commands = append(commands, nodeCommand(), statusCommand())
}

// defaultNodeProtocol is the variant real nodes run unless told otherwise.
const defaultNodeProtocol = nodeflag.DefaultProtocol

// leaveTimeout bounds a node's whole leave (the protocol's exchange where the variant has
// one, else the leave notices being written), so that the process exits within a second
// of being asked to.
const leaveTimeout = 500 * time.Millisecond

func nodeCommand() *cli.Command {
	return &cli.Command{
		Name:      "node",
		Usage:     "run one real node over TCP",
		ArgsUsage: " ",
		Description: `Runs the protocol code the simulator runs, with real time and TCP connections
(docs/wire.md, docs/nodes.md). Without --join or --left/--right the node is a one-node ring.
It answers "dhtexp status" and "dhtexp kv" on its port and leaves on SIGINT or SIGTERM:
through the protocol's leave exchange where the variant has one (predlock, predlock-retry, repair), which hands
its keys to its right neighbour, else by telling both neighbours that it goes. It prints
"node ID listening on ADDR" once it is up. With --protocol repair it also stabilizes every
--stabilize, finds dead peers by probes of --timeout, and keeps --replicas copies of each key.

Examples:
  dhtexp node --listen 127.0.0.1:7000 --id 100
  dhtexp node --listen 127.0.0.1:7001 --join 127.0.0.1:7000 --trace n1.parquet
  dhtexp status 127.0.0.1:7000
  dhtexp kv 127.0.0.1:7001 put colour blue`,
		Flags:  nodeflag.Node(),
		Action: nodeAction,
	}
}

func nodeAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usagef("node takes no arguments, got %q", c.Args().Slice())
	}
	cfg, err := nodeflag.Config(c)
	if err != nil {
		return cliutil.Usage(err)
	}
	tw, err := nodeflag.Tracer(c, &cfg)
	if err != nil {
		return err
	}
	if tw != nil { // a nil *EventTracer would be a non-nil Tracer
		cfg.Tracer = tw
	}
	ctx, stop := cliutil.SignalContext(c.Context, false)
	defer stop()
	err = node.RunProcess(ctx, cfg, node.Process{Stdin: c.App.Reader, ExitWithStdin: c.Bool("exit-with-stdin"),
		LeaveTimeout: leaveTimeout, Started: func(n *node.Node) {
			fmt.Fprintf(c.App.Writer, "node %v listening on %s\n", n.ID(), n.Addr())
		}})
	// A refused join (its ID is taken) comes back as an error naming the ID and its node.
	if err != nil {
		if tw != nil {
			tw.Abort()
		}
		return err
	}
	if tw != nil {
		if err := tw.Close(); err != nil {
			return fmt.Errorf("trace: %w", err)
		}
	}
	return nil
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "print a running node's state",
		ArgsUsage: "ADDR",
		Flags:     nodeflag.Status(),
		Action: func(c *cli.Context) error {
			args, err := lateFlags(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return usagef("status: want one node address, got %d arguments", len(args))
			}
			secret, err := readSecret(c)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			s, err := node.QueryStatus(ctx, args[0], node.WithSecret(secret))
			if err != nil {
				return fmt.Errorf("status of %s: %w", args[0], err)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			s.WriteText(c.App.Writer)
			return nil
		},
	}
}
