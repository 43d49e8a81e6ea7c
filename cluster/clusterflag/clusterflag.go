// Package clusterflag declares the command line flags of "dhtexp cluster" and reads them
// into cluster.Options. It is apart from cluster so that the library does not depend on a
// command line library.
package clusterflag

import (
	"errors"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/cluster"
	"github.com/dhtexp/dhtexp/node/nodeflag"
)

// Flags are the flags of "dhtexp cluster".
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "members", Aliases: []string{"nodes"}, Value: 8, Usage: "nodes of the initial ring"},
		&cli.IntFlag{Name: "joiners", Value: 24, Usage: "nodes that join at once"},
		nodeflag.Protocol(),
		nodeflag.Timeout(), nodeflag.Retries(), nodeflag.Stabilize(),
		&cli.IntFlag{Name: "replicas", Usage: "nodes' --replicas: copies of each key on the owner's next successors"},
		&cli.IntFlag{Name: "keys", Usage: "put this many keys through random nodes once the joins have settled, and judge them at the end: each reachable by a get, with min(replicas+1, live nodes) live copies"},
		&cli.IntFlag{Name: "churn-kill", Usage: "after the keys, kill this many random nodes with SIGKILL, one at a time (variants that repair)"},
		&cli.IntFlag{Name: "churn-start", Usage: "during the churn, start this many new nodes, each joining through a random live node"},
		&cli.DurationFlag{Name: "churn-interval", DefaultText: "3 stabilization periods", Usage: "time between two churn events"},
		&cli.IntFlag{Name: "churn-settle", Value: cluster.DefaultChurnSettle, Usage: "stabilization periods the ring has after the last churn event (and after the puts) to be right with every key copied (0 means 20)"},
		&cli.UintFlag{Name: "bits", Value: 16, Usage: "ID space is 2^bits"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the IDs and contacts"},
		&cli.DurationFlag{Name: "deadline", Value: 30 * time.Second, Usage: "give the joins this long to settle"},
		&cli.StringFlag{Name: "build", Value: "prebuilt", Usage: "prebuilt (members start as a correct ring) | join (members join one at a time through the first)"},
		&cli.DurationFlag{Name: "peer-timeout", Value: 2 * time.Second, Usage: "nodes' --peer-timeout"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "nodes' --log-level (their logs go to nodes/ID.log)"},
		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "result folder (default: results/cluster-PROTOCOL-mM-kK-sSEED); must not exist or be empty"},
		nodeflag.SecretFile(),
	}
}

// Options reads the flags of Flags and the cluster secret, and validates them
// (cluster.Options.Validate, which also fills in the default result folder).
func Options(c *cli.Context) (cluster.Options, error) {
	o := cluster.Options{Members: c.Int("members"), Joiners: c.Int("joiners"), Protocol: c.String("protocol"),
		Bits: c.Uint("bits"), Seed: c.Uint64("seed"), Deadline: c.Duration("deadline"), Build: c.String("build"),
		PeerTimeout: c.Duration("peer-timeout"), LogLevel: c.String("log-level"), Out: c.String("out"),
		Timeout: c.Duration("timeout"), Retries: c.Int("retries"), Replicas: c.Int("replicas"), Keys: c.Int("keys"),
		ChurnKill: c.Int("churn-kill"), ChurnStart: c.Int("churn-start"), ChurnInterval: c.Duration("churn-interval"),
		ChurnSettle: c.Int("churn-settle")}
	if c.IsSet("stabilize") {
		o.Stabilize = c.Duration("stabilize")
		if o.Stabilize == 0 {
			return o, errors.New("--stabilize must be positive")
		}
	}
	// Without one given, the run draws its own.
	secret, err := nodeflag.Secret(c)
	if err != nil {
		return o, err
	}
	o.Secret = secret
	return o, o.Validate()
}
