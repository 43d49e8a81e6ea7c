package analysisflag

import (
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/analysis"
)

func checkOptions(args ...string) (o analysis.CheckOptions, err error) {
	app := &cli.App{Flags: Check(), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(c *cli.Context) error { o, err = CheckOptions(c); return nil }}
	if e := app.Run(append([]string{"check"}, args...)); e != nil {
		return o, e
	}
	return o, err
}

func TestCheckOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want analysis.CheckOptions
		err  string
	}{
		{nil, analysis.CheckOptions{Alpha: analysis.DefaultAlpha, MinEffect: analysis.DefaultMinEffect}, ""},
		{[]string{"--alpha", "0.05", "--min-effect", "0.1", "--allow-spec-change"}, analysis.CheckOptions{Alpha: 0.05, MinEffect: 0.1, AllowSpecChange: true}, ""},
		{[]string{"--alpha", "0"}, analysis.CheckOptions{}, "alpha"},
		{[]string{"--min-effect", "2"}, analysis.CheckOptions{}, "min effect 2 is not in [0, 1]"},
	} {
		got, err := checkOptions(tc.args...)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%v: got %+v, %v; want %+v", tc.args, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.err)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want analysis.Format
		bad  bool
	}{
		{nil, "", false},
		{[]string{"--format", "csv"}, analysis.Format("csv"), false},
		{[]string{"--format", "yaml"}, "", true},
	} {
		var got analysis.Format
		var err error
		app := &cli.App{Flags: Report(), Writer: io.Discard, ErrWriter: io.Discard,
			Action: func(c *cli.Context) error { got, err = Format(c); return nil }}
		if e := app.Run(append([]string{"report"}, tc.args...)); e != nil {
			t.Fatal(e)
		}
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("%v: got %q, %v", tc.args, got, err)
		}
	}
}
