package paramflag

import (
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/sim"
)

func config(args ...string) (cfg sim.Config, err error) {
	app := &cli.App{Writer: io.Discard, ErrWriter: io.Discard, Flags: RunFlags(),
		Action: func(c *cli.Context) error { cfg, err = Config(c); return nil }}
	if e := app.Run(append([]string{"run"}, args...)); e != nil {
		return cfg, e
	}
	return cfg, err
}

func TestConfig(t *testing.T) {
	want := params.Default().Config
	want.Seed = 1
	if cfg, err := config(); err != nil || cfg != want {
		t.Fatalf("no flags: %v\n%+v\nwant\n%+v", err, cfg, want)
	}
	want.Seed, want.Nodes = 7, 12
	if cfg, err := config("--seed", "7", "--nodes", "12", "--seeds", "3"); err != nil || cfg != want {
		t.Fatalf("flags: %v\n%+v\nwant\n%+v", err, cfg, want)
	}
}

func TestConfigBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--seeds", "0"}, "--seeds must be at least 1, got 0"},
		{[]string{"--workers", "0"}, "--workers must be at least 1, got 0"},
		{[]string{"--bits", "65"}, "--bits"},
	} {
		if _, err := config(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

func TestColor(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want bool
		bad  bool
	}{{"always", true, false}, {"never", false, false}, {"auto", false, false}, {"sometimes", false, true}} {
		var got bool
		var err error
		app := &cli.App{Writer: io.Discard, ErrWriter: io.Discard, Flags: RunFlags(),
			Action: func(c *cli.Context) error { got, err = Color(c); return nil }}
		if e := app.Run([]string{"run", "--color", tc.mode}); e != nil {
			t.Fatal(e)
		}
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("%s: got %v, %v", tc.mode, got, err)
		}
	}
}
