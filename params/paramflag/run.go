package paramflag

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/runlog"
	"github.com/dhtexp/dhtexp/sim"
)

// RunFlags name everything a simulated run has: one flag per parameter of the registry
// (Flags), and those that pick the seeds and the output.
func RunFlags() []cli.Flag {
	return append(Flags(),
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "run seed (the first seed with --seeds)"},
		&cli.IntFlag{Name: "seeds", Value: 1, Usage: "number of seeds; more than one prints a summary"},
		&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), Usage: "parallel runs with --seeds"},
		&cli.StringFlag{Name: "color", Value: "auto", Usage: "auto | always | never"},
	)
}

// Config reads the flags of RunFlags: the run parameters and the seed, checked together.
// Every error is one in the flags' values.
func Config(c *cli.Context) (sim.Config, error) {
	r, err := Read(c)
	if err != nil {
		return r.Config, err
	}
	cfg := r.Config
	cfg.Seed = c.Uint64("seed")
	if n := c.Int("seeds"); n < 1 {
		return cfg, fmt.Errorf("--seeds must be at least 1, got %d", n)
	}
	if w := c.Int("workers"); w < 1 {
		return cfg, fmt.Errorf("--workers must be at least 1, got %d", w)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Color reads --color for output to the command's stdout.
func Color(c *cli.Context) (bool, error) {
	return runlog.WantColor(c.String("color"), c.App.Writer)
}
