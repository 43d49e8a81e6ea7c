package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/trace"
)

func init() {
	commands = append(commands, nodeCommand(), statusCommand())
}

// defaultNodeProtocol is the variant real nodes run unless told otherwise: the one whose
// joins end, in success or a reported failure, when messages are lost or peers die, as
// they do on real networks.
const defaultNodeProtocol = "predlock-retry"

// timeoutFlag and retriesFlag tune the variants that retry; "dhtexp node" and "dhtexp
// cluster" share them.
func timeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "timeout", Value: time.Duration(protocol.DefaultTimeout),
		Usage: "variants that retry: wait this long for an answer, doubling with every attempt without progress"}
}

func retriesFlag() cli.Flag {
	return &cli.IntFlag{Name: "retries", Value: protocol.DefaultRetries,
		Usage: "variants that retry: give up (and report it) after this many attempts in a row without progress"}
}

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
through the protocol's leave exchange where the variant has one (predlock, predlock-retry), which hands
its keys to its right neighbour, else by telling both neighbours that it goes. It prints
"node ID listening on ADDR" once it is up.

Examples:
  dhtexp node --listen 127.0.0.1:7000 --id 100
  dhtexp node --listen 127.0.0.1:7001 --join 127.0.0.1:7000 --trace n1.parquet
  dhtexp status 127.0.0.1:7000
  dhtexp kv 127.0.0.1:7001 put colour blue`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "address to listen on; a non-loopback one binds only when given here explicitly"},
			&cli.StringFlag{Name: "advertise", Usage: "address other nodes dial (default: the listen address)"},
			&cli.StringFlag{Name: "join", Usage: "join the ring through the node at this `ADDR`"},
			&cli.StringFlag{Name: "left", Usage: "start as a ring member with this left neighbour, `ID@ADDR` (needs --right)"},
			&cli.StringFlag{Name: "right", Usage: "start as a ring member with this right neighbour, `ID@ADDR` (needs --left)"},
			&cli.Int64Flag{Name: "id", Value: -1, DefaultText: "random", Usage: "ring ID"},
			&cli.UintFlag{Name: "bits", Value: 16, Usage: "ID space is 2^bits; every node of a ring must agree"},
			&cli.StringFlag{Name: "protocol", Value: defaultNodeProtocol, Usage: "protocol variant: " + strings.Join(protocol.VariantNames(), " | ")},
			timeoutFlag(), retriesFlag(),
			&cli.IntFlag{Name: "replicas", Usage: "copies of each key on the owner's next successors (0 none; every node of a ring should use the same)"},
			&cli.DurationFlag{Name: "finger-period", Value: node.DefaultFingerPeriod, Usage: "refresh one routing shortcut this often; 0 never (routing then follows right neighbours)"},
			&cli.IntFlag{Name: "hop-budget", Value: protocol.DefaultHopBudget, Usage: "a key-value operation fails after this many forwards (1..65535)"},
			&cli.DurationFlag{Name: "op-timeout", Value: time.Duration(protocol.DefaultOpTimeout), Usage: "a key-value operation this node starts fails without an answer within this long"},
			&cli.Uint64Flag{Name: "seed", DefaultText: "crypto/rand", Usage: "draw the random ID from this seed"},
			&cli.StringFlag{Name: "join-at", Usage: "start the join at this RFC 3339 time rather than at once"},
			&cli.BoolFlag{Name: "defer-join", Usage: `identify the contact, then start the join when a "join" line arrives on stdin`},
			&cli.BoolFlag{Name: "exit-with-stdin", Usage: "tell both neighbours and exit when stdin closes, without the leave exchange (so that a parent's nodes never outlive it)"},
			&cli.StringFlag{Name: "trace", Usage: "write events to this Parquet `FILE` (dhtexp.events, clock=wall)"},
			&cli.Int64Flag{Name: "run-id", Usage: "run_id column of the trace"},
			&cli.DurationFlag{Name: "idle-timeout", Value: node.DefaultIdleTimeout, Usage: "close inbound connections that complete no frame for this long"},
			&cli.DurationFlag{Name: "peer-timeout", Value: node.DefaultPeerTimeout, Usage: "a peer unreachable this long is dead; its messages are dropped"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug | info | warn | error"},
			secretFileFlag(),
		},
		Action: nodeAction,
	}
}

func nodeConfig(c *cli.Context) (node.Config, error) {
	if c.Args().Len() > 0 {
		return node.Config{}, usagef("node takes no arguments, got %q", c.Args().Slice())
	}
	s := node.Settings{Listen: c.String("listen"), ListenGiven: c.IsSet("listen"), Advertise: c.String("advertise"),
		Protocol: c.String("protocol"), Bits: c.Uint("bits"), ID: c.Int64("id"), Seed: c.Uint64("seed"), SeedGiven: c.IsSet("seed"),
		Join: c.String("join"), JoinAt: c.String("join-at"), DeferJoin: c.Bool("defer-join"),
		Left: c.String("left"), Right: c.String("right"), LeftGiven: c.IsSet("left"), RightGiven: c.IsSet("right"),
		Timeout: c.Duration("timeout"), Retries: c.Int("retries"), IdleTimeout: c.Duration("idle-timeout"),
		PeerTimeout: c.Duration("peer-timeout"), FingerPeriod: c.Duration("finger-period"), Replicas: c.Int("replicas"),
		HopBudget: c.Int("hop-budget"), OpTimeout: c.Duration("op-timeout"),
		SecretFile: c.String("secret-file"), SecretEnv: os.Getenv(node.SecretEnv)}
	cfg, err := s.Config()
	if err != nil {
		return cfg, cliutil.Usage(err)
	}
	return cfg, nil
}

func parseLevel(s string) (slog.Level, error) {
	l, err := node.ParseLogLevel(s)
	if err != nil {
		return l, cliutil.Usage(err)
	}
	return l, nil
}

func nodeAction(c *cli.Context) error {
	cfg, err := nodeConfig(c)
	if err != nil {
		return err
	}
	level, err := parseLevel(c.String("log-level"))
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))

	var tw *trace.EventTracer
	if path := c.String("trace"); path != "" {
		ew, err := trace.CreateEvents(path, trace.ClockWall, trace.Options{})
		if err != nil {
			return err
		}
		tw = trace.NewEventTracer(ew, c.Int64("run-id"), func(err error) {
			cfg.Logger.Error("trace write failed; no further events are written", "err", err)
		})
		cfg.Tracer = tw
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
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
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON (unset IDs are null, times Unix nanoseconds)"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Second, Usage: "give up after this long"},
			secretFileFlag(),
		},
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
