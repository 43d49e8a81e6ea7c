package main

import (
	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/node/nodeflag"
)

// readSecret reads the cluster secret of a command with nodeflag.SecretFile: nil when
// neither the flag nor the environment names one.
func readSecret(c *cli.Context) ([]byte, error) {
	secret, err := nodeflag.Secret(c)
	if err != nil {
		return nil, cliutil.Usage(err)
	}
	return secret, nil
}
