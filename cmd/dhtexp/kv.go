package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/node/nodeflag"
	"github.com/dhtexp/dhtexp/protocol"
)

func init() {
	commands = append(commands, kvCommand())
}

func kvCommand() *cli.Command {
	return &cli.Command{
		Name:      "kv",
		Usage:     "look up, get or put a key through a running node",
		ArgsUsage: "ADDR lookup|get|put KEY [VALUE]",
		Description: `Asks the node at ADDR to carry out one key-value operation on the ring
(docs/nodes.md): lookup names the node responsible for KEY, get reads its value there, put
stores VALUE under KEY there. It prints one line: the status, the key's ID on the ring, the
owner, the forwards the operation took and, for get, the value (quoted); --json prints an
object instead. A VALUE that starts with "-" goes after "--".

Exit status: 0 ok; 1 not found, or the operation failed (timeout, hop_budget,
unavailable, no reply within --timeout); 2 bad input, or no connection to the node.

Examples:
  dhtexp kv 127.0.0.1:7000 put colour blue
  dhtexp kv 127.0.0.1:7001 get colour
  dhtexp kv 127.0.0.1:7001 lookup colour --json`,
		Flags:  nodeflag.KV(),
		Action: kvAction,
	}
}

func kvAction(c *cli.Context) error {
	args, err := lateFlags(c)
	if err != nil {
		return err
	}
	addr, q, err := node.ParseKVArgs(args)
	if err != nil {
		return cliutil.Usage(err)
	}
	kind, key := q.Kind, q.Key
	timeout := c.Duration("timeout")
	if timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	secret, err := readSecret(c)
	if err != nil {
		return err
	}
	rep, err := node.AskKV(c.Context, addr, q, timeout, node.WithSecret(secret))
	what := fmt.Sprintf("kv %s %q", kind, key)
	if err != nil {
		return cliutil.Exit(exitBadInput, fmt.Errorf("%s: %w", what, err))
	}
	if rep.Status != node.StatusRefused {
		if err := node.WriteKVReply(c.App.Writer, c.Bool("json"), kind, key, &rep); err != nil {
			return err
		}
	}
	switch rep.Status {
	case protocol.StatusOK:
		return nil
	case node.StatusRefused:
		return cliutil.Exit(exitBadInput, fmt.Errorf("%s: the node at %s refused the request: %s", what, addr, rep.Error))
	case protocol.StatusNotFound:
		return cliutil.Exit(exitFailure, fmt.Errorf("%s: not found", what))
	}
	return cliutil.Exit(exitFailure, fmt.Errorf("%s: %s", what, rep.Problem()))
}
