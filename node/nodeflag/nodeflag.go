// Package nodeflag declares the command line flags of the commands that run or talk to a
// real node ("dhtexp node", "status", "kv", and those "dhtexp cluster" shares) and reads
// them into node.Settings. It is apart from node so that the node does not depend on a
// command line library.
package nodeflag

import (
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/trace"
)

// DefaultProtocol is the variant real nodes run unless told otherwise: the one whose
// joins end, in success or a reported failure, when messages are lost or peers die, as
// they do on real networks.
const DefaultProtocol = "predlock-retry"

// DefaultKVTimeout leaves the node's own operation timeout (protocol.DefaultOpTimeout)
// room to run out first, so that a slow ring answers "timeout" with what the node knows.
const DefaultKVTimeout = 5 * time.Second

// Timeout and Retries tune the variants that retry; "dhtexp node" and "dhtexp cluster"
// share them.
func Timeout() cli.Flag {
	return &cli.DurationFlag{Name: "timeout", Value: time.Duration(protocol.DefaultTimeout),
		Usage: "variants that retry: wait this long for an answer, doubling with every attempt without progress"}
}

// Retries is --retries; see Timeout.
func Retries() cli.Flag {
	return &cli.IntFlag{Name: "retries", Value: protocol.DefaultRetries,
		Usage: "variants that retry: give up (and report it) after this many attempts in a row without progress"}
}

// Stabilize is --stabilize, the stabilization period of the variants that repair crashed
// neighbours; "dhtexp node" and "dhtexp cluster" share it.
func Stabilize() cli.Flag {
	return &cli.DurationFlag{Name: "stabilize", Value: time.Duration(protocol.DefaultStabilize),
		Usage: "variants that stabilize (" + strings.Join(node.Stabilizing(), ", ") + "): run a stabilization round this often; a peer that misses two probes of --timeout each is presumed dead"}
}

// Protocol is --protocol, naming every variant.
func Protocol() cli.Flag {
	return &cli.StringFlag{Name: "protocol", Value: DefaultProtocol, Usage: "protocol variant: " + strings.Join(protocol.VariantNames(), " | ")}
}

// SecretFile names the file of the cluster secret. There is no flag for the secret
// itself: ps would show it to every user of the machine.
func SecretFile() cli.Flag {
	return &cli.StringFlag{Name: "secret-file", Usage: "authenticate every frame with the cluster secret in this `FILE` (default: $" +
		node.SecretEnv + "; neither: no authentication, fit for loopback only)"}
}

// Secret reads the cluster secret of a command with SecretFile: nil when neither the flag
// nor the environment names one.
func Secret(c *cli.Context) ([]byte, error) {
	return node.ReadSecret(c.String("secret-file"), os.Getenv(node.SecretEnv))
}

// Node are the flags of "dhtexp node".
func Node() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "address to listen on; a non-loopback one binds only when given here explicitly"},
		&cli.StringFlag{Name: "advertise", Usage: "address other nodes dial (default: the listen address)"},
		&cli.StringFlag{Name: "join", Usage: "join the ring through the node at this `ADDR`"},
		&cli.StringFlag{Name: "left", Usage: "start as a ring member with this left neighbour, `ID@ADDR` (needs --right)"},
		&cli.StringFlag{Name: "right", Usage: "start as a ring member with this right neighbour, `ID@ADDR` (needs --left)"},
		&cli.Int64Flag{Name: "id", Value: -1, DefaultText: "random", Usage: "ring ID"},
		&cli.UintFlag{Name: "bits", Value: 16, Usage: "ID space is 2^bits; every node of a ring must agree"},
		Protocol(),
		Timeout(), Retries(), Stabilize(),
		&cli.IntFlag{Name: "replicas", Usage: "copies of each key on the owner's next successors (0 none; every node of a ring should use the same); repair: also the length of the successor list (at least 1)"},
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
		SecretFile(),
	}
}

// Settings reads the flags of Node; node.Settings.Config checks them.
func Settings(c *cli.Context) node.Settings {
	return node.Settings{Listen: c.String("listen"), ListenGiven: c.IsSet("listen"), Advertise: c.String("advertise"),
		Protocol: c.String("protocol"), Bits: c.Uint("bits"), ID: c.Int64("id"), Seed: c.Uint64("seed"), SeedGiven: c.IsSet("seed"),
		Join: c.String("join"), JoinAt: c.String("join-at"), DeferJoin: c.Bool("defer-join"),
		Left: c.String("left"), Right: c.String("right"), LeftGiven: c.IsSet("left"), RightGiven: c.IsSet("right"),
		Timeout: c.Duration("timeout"), Retries: c.Int("retries"),
		Stabilize: c.Duration("stabilize"), StabilizeGiven: c.IsSet("stabilize"), IdleTimeout: c.Duration("idle-timeout"),
		PeerTimeout: c.Duration("peer-timeout"), FingerPeriod: c.Duration("finger-period"), Replicas: c.Int("replicas"),
		HopBudget: c.Int("hop-budget"), OpTimeout: c.Duration("op-timeout"),
		SecretFile: c.String("secret-file"), SecretEnv: os.Getenv(node.SecretEnv)}
}

// Status are the flags of "dhtexp status".
func Status() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print JSON (unset IDs are null, times Unix nanoseconds)"},
		&cli.DurationFlag{Name: "timeout", Value: 2 * time.Second, Usage: "give up after this long"},
		SecretFile(),
	}
}

// KV are the flags of "dhtexp kv".
func KV() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print a JSON object (unknown IDs are null)"},
		&cli.DurationFlag{Name: "timeout", Value: DefaultKVTimeout, Usage: "give up when the node has not answered within this long"},
		SecretFile(),
	}
}

// Config reads the flags of Node into the node's configuration, checked, with a logger at
// --log-level on the command's stderr. Every error is one in the flags' values.
func Config(c *cli.Context) (node.Config, error) {
	s := Settings(c)
	cfg, err := s.Config()
	if err != nil {
		return cfg, err
	}
	level, err := node.ParseLogLevel(c.String("log-level"))
	if err != nil {
		return cfg, err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}

// Tracer opens the trace file of --trace for cfg's node, nil without one. A write that
// fails is logged once and ends the trace, not the node.
func Tracer(c *cli.Context, cfg *node.Config) (*trace.EventTracer, error) {
	path := c.String("trace")
	if path == "" {
		return nil, nil
	}
	ew, err := trace.CreateEvents(path, trace.ClockWall, trace.Options{})
	if err != nil {
		return nil, err
	}
	return trace.NewEventTracer(ew, c.Int64("run-id"), func(err error) {
		cfg.Logger.Error("trace write failed; no further events are written", "err", err)
	}), nil
}
