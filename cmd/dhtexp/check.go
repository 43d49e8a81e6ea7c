package main

import (
	"bytes"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/analysis"
	"github.com/dhtexp/dhtexp/internal/cliutil"
	"github.com/dhtexp/dhtexp/runner"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "baseline",
		Usage:     "record a result set's failure counts per grid point, for check",
		ArgsUsage: "RESULTS",
		Description: `Writes a JSON baseline (spec hash, experiment, and per grid point its parameters,
runs and failed runs) to FILE, for example experiments/baselines/smoke.json.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "baseline file to write"},
		},
		Action: baselineCmd,
	})
	commands = append(commands, &cli.Command{
		Name:      "check",
		Usage:     "fail when a result set's failure rates rose significantly above a baseline",
		ArgsUsage: "RESULTS",
		Description: `Compares each grid point's failure rate (runs whose outcome is not ok) with the
baseline's: a one-sided Fisher exact test per grid point, Holm's correction across grid points,
and a minimum rise. A grid point regresses only when its Holm-adjusted p-value is at most --alpha
AND its failure rate rose by at least --min-effect, so reruns with other seeds do not fail.

Exit status: 0 no regression, 1 some grid point regressed (a table of them is printed),
2 unusable input (not a result set, a baseline for another spec, grid points missing, or
runs missing: a stopped sweep or a single shard is refused unless --allow-incomplete).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "baseline", Usage: "baseline file written by dhtexp baseline"},
			&cli.Float64Flag{Name: "alpha", Value: analysis.DefaultAlpha, Usage: "family-wise significance level"},
			&cli.Float64Flag{Name: "min-effect", Value: analysis.DefaultMinEffect, Usage: "smallest rise in failure rate that fails, absolute (0.05 = 5 points)"},
			&cli.BoolFlag{Name: "allow-spec-change", Usage: "compare even if the spec hash differs, matching grid points by parameters"},
			&cli.BoolFlag{Name: "allow-incomplete", Usage: "compare a result set that lacks some of its planned runs (a stopped sweep, one shard) instead of refusing it"},
		},
		Action: checkCmd,
	})
}

func baselineCmd(c *cli.Context) error {
	args, err := interspersed(c, "a result set folder")
	if err != nil || len(args) == 0 {
		return err
	}
	if len(args) != 1 {
		return usagef("baseline takes one result set folder, got %d arguments", len(args))
	}
	out := c.String("output")
	if out == "" {
		return usagef("baseline needs -o FILE")
	}
	s, err := openSummary(args[0], analysis.Options{})
	if err != nil {
		return err
	}
	if want := s.Manifest.ExpectedRuns(); s.Runs < want {
		fmt.Fprintf(c.App.ErrWriter, "warning: %s has %d of %d runs; the baseline records what is there\n", args[0], s.Runs, want)
	}
	runner.CanonicalSpecHashes(s.Manifest)
	b := analysis.NewBaseline(s)
	if err := analysis.WriteBaseline(out, b); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %d grid points, %d runs, %d failed\n", out, len(b.Points), s.Runs, b.Failures())
	return nil
}

func checkCmd(c *cli.Context) error {
	args, err := interspersed(c, "a result set folder")
	if err != nil || len(args) == 0 {
		return err
	}
	if len(args) != 1 {
		return usagef("check takes one result set folder, got %d arguments", len(args))
	}
	opts := analysis.CheckOptions{
		Alpha:           c.Float64("alpha"),
		MinEffect:       c.Float64("min-effect"),
		AllowSpecChange: c.Bool("allow-spec-change"),
	}
	if err := opts.Validate(); err != nil {
		return cliutil.Usage(err)
	}
	path := c.String("baseline")
	if path == "" {
		return usagef("check needs --baseline FILE")
	}
	b, err := analysis.ReadBaseline(path)
	if err != nil {
		return badInput(err)
	}
	s, err := openSummary(args[0], analysis.Options{})
	if err != nil {
		return err
	}
	incomplete := warnIncomplete(c, args[0], s)
	runner.CanonicalSpecHashes(s.Manifest, &b.SpecHash)
	res, err := analysis.Check(b, s, opts)
	if err != nil {
		// Everything Check refuses is input it cannot use; exit 1 is
		// reserved for a regression.
		return cliutil.Exit(exitBadInput, err)
	}
	// A stopped sweep's rates come from its cheap early grid points and a shard's from a
	// slice of each: neither is the experiment the baseline recorded. Check's own refusals
	// come first, since they name the grid points by their parameters.
	if incomplete && !c.Bool("allow-incomplete") {
		return cliutil.Exit(exitBadInput, fmt.Errorf("check: %s is incomplete; finish it (or merge its shards) first, or pass --allow-incomplete to compare the runs present", args[0]))
	}
	var buf bytes.Buffer
	if err := analysis.WriteCheck(&buf, res); err != nil {
		return err
	}
	if _, err := c.App.Writer.Write(buf.Bytes()); err != nil {
		return err
	}
	if n := len(res.Regressed()); n > 0 {
		return cliutil.Exit(exitFailure, fmt.Errorf("check: %d grid point(s) regressed against %s", n, path))
	}
	return nil
}

// warnIncomplete prints a line on stderr when the result set at dir lacks planned runs, and
// reports whether it does: the report and the check of a stopped sweep otherwise look like
// those of the whole experiment.
func warnIncomplete(c *cli.Context, dir string, s *analysis.Summary) bool {
	b := analysis.CompletenessOf(s).Banner()
	if b == "" {
		return false
	}
	fmt.Fprintf(c.App.ErrWriter, "warning: %s is an incomplete result set: %s\n", dir, b)
	return true
}
