package paramflag

import (
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/params"
)

func read(args ...string) (params.Run, error) {
	var r params.Run
	app := &cli.App{Writer: io.Discard, ErrWriter: io.Discard, Flags: Flags(), Action: func(c *cli.Context) (err error) {
		r, err = Read(c)
		return err
	}}
	err := app.Run(append([]string{"x"}, args...))
	return r, err
}

// TestRead: no flags give the registry's defaults; a flag sets its parameter through the
// parameter's setter, and a value the setter refuses names the flag.
func TestRead(t *testing.T) {
	r, err := read()
	if err != nil || r.Config != params.Default().Config {
		t.Fatalf("no flags: %v, config differs from the defaults: %+v", err, r.Config)
	}
	r, err = read("--nodes", "9", "--no-check", "--delay-sigma", "0.75", "--join-window", "3ms", "--layout", "wrap")
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Config; c.Nodes != 9 || !c.NoCheck || c.Delay.Sigma != 0.75 || c.JoinWindow != 3_000_000 || c.Layout != "wrap" {
		t.Fatalf("flags not applied: %+v", c)
	}
	if _, err := read("--bits", "65"); err == nil || !strings.Contains(err.Error(), "--bits") {
		t.Fatalf("bad value: %v", err)
	}
}
