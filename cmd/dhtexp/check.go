package main

import (
	"bytes"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/analysis"
	"github.com/dhtexp/dhtexp/analysis/analysisflag"
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
		Flags:  analysisflag.Baseline(),
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
		Flags:  analysisflag.Check(),
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
	analysis.WarnPartialBaseline(c.App.ErrWriter, args[0], s)
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
	opts, err := analysisflag.CheckOptions(c)
	if err != nil {
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
	incomplete := analysis.WarnIncomplete(c.App.ErrWriter, args[0], s)
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
