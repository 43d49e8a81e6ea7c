package main

import (
	"bytes"
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/analysis"
	"github.com/dhtexp/dhtexp/analysis/analysisflag"
	"github.com/dhtexp/dhtexp/failex"
	"github.com/dhtexp/dhtexp/internal/cliutil"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "report",
		Usage:     "analyse a result set: figures, an HTML page and a table per grid point",
		ArgsUsage: "RESULTS",
		Description: `Writes RESULTS/report/ (or -o DIR): index.html, one self-contained page with the
figures embedded; summary.md with the per-grid-point table for CI logs and pull requests;
table.csv; and every figure as PNG and SVG under figures/. The folder appears only when complete.
When some runs had a DHT workload (kv_keys or kv_ops above 0 in the runs table), every output
gains a DHT part: lookup success, hops per lookup against ½·log2 N, lookup latency (from the
ops table when there is one), inconsistent gets, key safety and stale fingers per grid point.

With --format, the table is printed to stdout instead (text, csv, json or markdown); add -o to
write the report as well. Exit status 2 means RESULTS is not a usable result set.`,
		Flags:  analysisflag.Report(),
		Action: reportCmd,
	})
}

func reportCmd(c *cli.Context) error {
	args, err := interspersed(c, "a result set folder")
	if err != nil || len(args) == 0 {
		return err
	}
	if len(args) != 1 {
		return usagef("report takes one result set folder, got %d arguments", len(args))
	}
	results := args[0]
	format, err := analysisflag.Format(c)
	if err != nil {
		return cliutil.Usage(err)
	}
	s, err := openSummary(results, analysis.Options{X: c.String("x")})
	if err != nil {
		return err
	}
	analysis.WarnIncomplete(c.App.ErrWriter, results, s)
	if format != "" {
		// Rendered in full before printing, so a failure prints nothing.
		var buf bytes.Buffer
		if err := analysis.WriteTable(&buf, s, format); err != nil {
			return err
		}
		if _, err := c.App.Writer.Write(buf.Bytes()); err != nil {
			return err
		}
		if !c.IsSet("output") {
			return nil
		}
	}
	out := c.String("output")
	if out == "" {
		out = filepath.Join(results, "report")
	}
	failex.Fill(results, s)
	if err := analysis.WriteReport(out, s); err != nil {
		return err
	}
	msg := c.App.Writer
	if format != "" {
		// stdout holds the table; keep it parseable.
		msg = c.App.ErrWriter
	}
	dht := ""
	if s.DHT != nil {
		dht = fmt.Sprintf("; DHT workload at %d", len(s.DHT.Points))
	}
	fmt.Fprintf(msg, "wrote %s (%d grid points, %d runs%s)\n", filepath.Join(out, analysis.ReportHTML), len(s.Points), s.Runs, dht)
	return nil
}

// openSummary opens and analyses a result set; input errors exit with
// exitBadInput.
func openSummary(dir string, opts analysis.Options) (*analysis.Summary, error) {
	s, err := analysis.Load(dir, opts)
	if err != nil {
		return nil, badInput(err)
	}
	return s, nil
}

// badInput gives input errors exitBadInput and leaves others as they are.
func badInput(err error) error {
	if analysis.IsInputError(err) {
		return cliutil.Exit(exitBadInput, err)
	}
	return err
}
