// Package clusterflag declares the command line flags of "dhtexp cluster" and reads them
// into cluster.Options. It is apart from cluster so that the library does not depend on a
// command line library.
package clusterflag

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/cluster"
	"github.com/dhtexp/dhtexp/node/nodeflag"
)

// Flags are the flags of "dhtexp cluster".
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "members", Value: 8, Usage: "nodes of the initial ring"},
		&cli.IntFlag{Name: "joiners", Value: 24, Usage: "nodes that join at once"},
		nodeflag.Protocol(),
		nodeflag.Timeout(), nodeflag.Retries(),
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
		Timeout: c.Duration("timeout"), Retries: c.Int("retries")}
	// Without one given, the run draws its own.
	secret, err := nodeflag.Secret(c)
	if err != nil {
		return o, err
	}
	o.Secret = secret
	return o, o.Validate()
}
