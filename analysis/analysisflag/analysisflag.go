// Package analysisflag declares the command line flags of "dhtexp baseline", "check" and
// "report" and reads the check's into analysis.CheckOptions. It is apart from analysis so
// that the library does not depend on a command line library.
package analysisflag

import (
	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/analysis"
)

// Baseline are the flags of "dhtexp baseline".
func Baseline() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "baseline file to write"},
	}
}

// Check are the flags of "dhtexp check".
func Check() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "baseline", Usage: "baseline file written by dhtexp baseline"},
		&cli.Float64Flag{Name: "alpha", Value: analysis.DefaultAlpha, Usage: "family-wise significance level"},
		&cli.Float64Flag{Name: "min-effect", Value: analysis.DefaultMinEffect, Usage: "smallest rise in failure rate that fails, absolute (0.05 = 5 points)"},
		&cli.BoolFlag{Name: "allow-spec-change", Usage: "compare even if the spec hash differs, matching grid points by parameters"},
		&cli.BoolFlag{Name: "allow-incomplete", Usage: "compare a result set that lacks some of its planned runs (a stopped sweep, one shard) instead of refusing it"},
	}
}

// CheckOptions reads the flags of Check that tune the comparison, validated.
func CheckOptions(c *cli.Context) (analysis.CheckOptions, error) {
	opts := analysis.CheckOptions{
		Alpha:           c.Float64("alpha"),
		MinEffect:       c.Float64("min-effect"),
		AllowSpecChange: c.Bool("allow-spec-change"),
	}
	return opts, opts.Validate()
}

// Report are the flags of "dhtexp report".
func Report() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "report folder (default RESULTS/report)"},
		&cli.StringFlag{Name: "x", Usage: "sweep axis to plot along the x axis (default: the first numeric axis)"},
		&cli.StringFlag{Name: "format", Usage: "print the table to stdout as text, csv, json or markdown"},
	}
}

// Format reads --format of Report: "" when not given.
func Format(c *cli.Context) (analysis.Format, error) {
	f := c.String("format")
	if f == "" {
		return "", nil
	}
	return analysis.ParseFormat(f)
}
