package clusterflag

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/cluster"
)

func options(args ...string) (cluster.Options, error) {
	var o cluster.Options
	var err error
	app := &cli.App{Flags: Flags(), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(c *cli.Context) error { o, err = Options(c); return nil }}
	if e := app.Run(append([]string{"cluster"}, args...)); e != nil {
		return o, e
	}
	return o, err
}

func TestOptions(t *testing.T) {
	t.Setenv("DHTEXP_SECRET", "")
	out := filepath.Join(t.TempDir(), "c")
	o, err := options("--members", "4", "--joiners", "6", "--protocol", "seed", "--seed", "3", "--deadline", "5s", "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	if o.Members != 4 || o.Joiners != 6 || o.Protocol != "seed" || o.Seed != 3 || o.Deadline != 5*time.Second || o.Out != out ||
		o.Build != "prebuilt" || o.Bits != 16 || o.Secret != nil {
		t.Errorf("got %+v", o)
	}
}

func TestChurnOptions(t *testing.T) {
	t.Setenv("DHTEXP_SECRET", "")
	out := filepath.Join(t.TempDir(), "c")
	o, err := options("--nodes", "32", "--joiners", "0", "--protocol", "repair", "--stabilize", "200ms", "--replicas", "2",
		"--keys", "64", "--churn-kill", "8", "--churn-start", "4", "--churn-interval", "1s", "--churn-settle", "30", "-o", out)
	if err != nil {
		t.Fatal(err)
	}
	if o.Members != 32 || o.Joiners != 0 || o.Stabilize != 200*time.Millisecond || o.Replicas != 2 || o.Keys != 64 ||
		o.ChurnKill != 8 || o.ChurnStart != 4 || o.ChurnInterval != time.Second || o.ChurnSettle != 30 {
		t.Errorf("got %+v", o)
	}
	// Left out, the stabilization period is the variant's default.
	if o, err = options("--protocol", "repair", "-o", filepath.Join(t.TempDir(), "d")); err != nil || o.Stabilize != 0 || o.ChurnSettle != cluster.DefaultChurnSettle {
		t.Errorf("defaults: %+v %v", o, err)
	}
}

// The errors are cluster.Options.Validate's, naming the flags.
func TestBadValues(t *testing.T) {
	t.Setenv("DHTEXP_SECRET", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--members", "0"}, "--members must be at least 1"},
		{[]string{"--build", "x"}, `--build must be prebuilt or join, got "x"`},
		{[]string{"--protocol", "nope"}, "--protocol"},
		{[]string{"--secret-file", "/nonexistent/secret"}, "secret"},
		{[]string{"--churn-kill", "2"}, "need a variant that repairs crashes"},
		{[]string{"--protocol", "repair", "--stabilize", "0s"}, "--stabilize must be positive"},
		{[]string{"--stabilize", "1s"}, "--stabilize: protocol predlock-retry does not stabilize"},
		{[]string{"--keys", "-1"}, "--keys must not be negative"},
	} {
		if _, err := options(append(tc.args, "-o", t.TempDir())...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
