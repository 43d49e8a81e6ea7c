package main

import (
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/params/paramflag"
	"github.com/dhtexp/dhtexp/runlog"
	"github.com/dhtexp/dhtexp/sim"
)

func init() {
	commands = append(commands, runCommand())
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "simulate one configuration for one seed (message log) or many (summary)",
		ArgsUsage: " ",
		Description: `With one seed, prints the message log, the final ring and the outcome.
With --seeds N, runs seeds seed..seed+N-1 on all cores and prints a summary.

Examples:
  dhtexp run --scenario simple --seed 7
  dhtexp run --scenario advanced --nodes 999 --horizon 10s --quiet
  dhtexp run --scenario simple --seeds 1000
  dhtexp run --scenario random --nodes 64 --joiners 16 --timing async --delay uniform --delay-min 1ms --delay-max 20ms --seeds 500`,
		Flags: namedOnce(append(simFlags(), &cli.BoolFlag{Name: "quiet",
			Usage: "with one seed: print the outcome and the counts only, no message log or final ring"})),
		Action: runAction,
	}
}

// simFlags names everything a simulated run has; run, replay and shrink share them.
var simFlags = paramflag.RunFlags

// configFromFlags reads the run parameters and the seed.
func configFromFlags(c *cli.Context) (sim.Config, error) {
	cfg, err := paramflag.Config(c)
	if err != nil {
		return cfg, cliutil.Usage(err)
	}
	return cfg, nil
}

func runAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usagef("run takes no arguments, got %q", c.Args().Slice())
	}
	cfg, err := configFromFlags(c)
	if err != nil {
		return err
	}
	color, err := paramflag.Color(c)
	if err != nil {
		return cliutil.Usage(err)
	}
	if os.Getenv("GOGC") == "" && cfg.Nodes+cfg.Joiners <= smallRun(c.Int("seeds")) {
		// Small runs leave almost nothing alive, and at the collector's default pace a
		// summary of them spent a fifth of its time marking the program's own tables, every
		// few hundred runs. One seed of a thousand nodes met one collection, for the tables
		// the program's packages build at start-up: half a millisecond of marking, then
		// sweeping and page faults, a twentieth of the command's time. A larger heap goal
		// costs them a few megabytes.
		defer debug.SetGCPercent(debug.SetGCPercent(summaryGCPercent))
	}
	if c.Int("seeds") == 1 {
		if err := runlog.OneWith(c.App.Writer, cfg, runlog.Options{Color: color, Quiet: c.Bool("quiet")}); err != nil {
			return usagef("%v", err)
		}
		return nil
	}
	runlog.Many(c.App.Writer, cfg, c.Int("seeds"), c.Int("workers"), color)
	return nil
}

// summaryGCPercent is the collector's pace for small runs (smallRun).
const summaryGCPercent = 800

// smallRun is the largest ring (members and newcomers, the newcomers counted even where the
// scenario sets its own) whose runs get summaryGCPercent. One seed keeps its ring alive to
// the end, and its heap may grow to nine times that at this pace: the bound is the size at
// which that is still a few tens of megabytes.
func smallRun(seeds int) int {
	if seeds == 1 {
		return 2000
	}
	return 1000
}

// namedOnce gives each of flags names worked out once. urfave/cli works a flag's names out
// (through a regular expression) each time it is asked for them, and it asks every flag
// before the one it looks up by name; the command looks each of its flags up, and the run
// parameters read each of theirs, which cost every run over a millisecond and 19,000
// allocations. Each wrapper embeds the flag itself, so that help, completion and parsing
// see the same methods; a flag of another type is kept as it is.
func namedOnce(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		names := f.Names()
		switch f := f.(type) {
		case *cli.StringFlag:
			out[i] = stringFlag{f, names}
		case *cli.Int64Flag:
			out[i] = int64Flag{f, names}
		case *cli.IntFlag:
			out[i] = intFlag{f, names}
		case *cli.Uint64Flag:
			out[i] = uint64Flag{f, names}
		case *cli.DurationFlag:
			out[i] = durationFlag{f, names}
		case *cli.Float64Flag:
			out[i] = float64Flag{f, names}
		case *cli.BoolFlag:
			// urfave/cli checks for *cli.BoolFlag itself only to honour these two fields.
			if f.Hidden || f.DisableDefaultText {
				out[i] = f
				continue
			}
			out[i] = boolFlag{f, names}
		default:
			out[i] = f
		}
	}
	return out
}

type (
	stringFlag struct {
		*cli.StringFlag
		names []string
	}
	int64Flag struct {
		*cli.Int64Flag
		names []string
	}
	intFlag struct {
		*cli.IntFlag
		names []string
	}
	uint64Flag struct {
		*cli.Uint64Flag
		names []string
	}
	durationFlag struct {
		*cli.DurationFlag
		names []string
	}
	float64Flag struct {
		*cli.Float64Flag
		names []string
	}
	boolFlag struct {
		*cli.BoolFlag
		names []string
	}
)

func (f stringFlag) Names() []string   { return f.names }
func (f int64Flag) Names() []string    { return f.names }
func (f intFlag) Names() []string      { return f.names }
func (f uint64Flag) Names() []string   { return f.names }
func (f durationFlag) Names() []string { return f.names }
func (f float64Flag) Names() []string  { return f.names }
func (f boolFlag) Names() []string     { return f.names }
