package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/node"
)

// secretFileFlag names the file of the cluster secret. There is no flag for the secret
// itself: ps would show it to every user of the machine.
func secretFileFlag() cli.Flag {
	return &cli.StringFlag{Name: "secret-file", Usage: "authenticate every frame with the cluster secret in this `FILE` (default: $" +
		node.SecretEnv + "; neither: no authentication, fit for loopback only)"}
}

// readSecret reads the cluster secret of a command with secretFileFlag: nil when neither
// the flag nor the environment names one.
func readSecret(c *cli.Context) ([]byte, error) {
	secret, err := node.ReadSecret(c.String("secret-file"), os.Getenv(node.SecretEnv))
	if err != nil {
		return nil, cliutil.Usage(err)
	}
	return secret, nil
}
