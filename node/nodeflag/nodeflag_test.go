package nodeflag

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/node"
)

// settings parses args with the flags of Node and returns what Settings reads.
func settings(t *testing.T, args ...string) node.Settings {
	t.Helper()
	var s node.Settings
	app := &cli.App{Flags: Node(), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(c *cli.Context) error { s = Settings(c); return nil }}
	if err := app.Run(append([]string{"node"}, args...)); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return s
}

func TestSettings(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		check func(node.Settings) bool
	}{
		{nil, func(s node.Settings) bool {
			return s.Listen == "127.0.0.1:0" && !s.ListenGiven && s.ID == -1 && s.Bits == 16 && s.Protocol == DefaultProtocol &&
				!s.SeedGiven && s.PeerTimeout == node.DefaultPeerTimeout && s.Stabilize == time.Second && !s.StabilizeGiven
		}},
		{[]string{"--protocol", "repair", "--stabilize", "200ms"}, func(s node.Settings) bool {
			return s.Protocol == "repair" && s.Stabilize == 200*time.Millisecond && s.StabilizeGiven
		}},
		{[]string{"--listen", "0.0.0.0:7000", "--id", "5", "--seed", "3"}, func(s node.Settings) bool {
			return s.Listen == "0.0.0.0:7000" && s.ListenGiven && s.ID == 5 && s.Seed == 3 && s.SeedGiven
		}},
		{[]string{"--left", "1@a:1", "--right", ""}, func(s node.Settings) bool {
			return s.Left == "1@a:1" && s.LeftGiven && s.RightGiven && s.Right == ""
		}},
		{[]string{"--timeout", "3s", "--retries", "4", "--replicas", "2", "--hop-budget", "9", "--secret-file", "f"}, func(s node.Settings) bool {
			return s.Timeout == 3*time.Second && s.Retries == 4 && s.Replicas == 2 && s.HopBudget == 9 && s.SecretFile == "f"
		}},
	} {
		if s := settings(t, tc.args...); !tc.check(s) {
			t.Errorf("%v: got %+v", tc.args, s)
		}
	}
}

// Errors come from node.Settings.Config and name the flags.
func TestBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--protocol", "nope"}, "protocol"},
		{[]string{"--left", "1@a:1"}, "--right"},
		{[]string{"--retries", "0"}, "--retries must be at least 1"},
		{[]string{"--stabilize", "2s"}, "--stabilize: protocol predlock-retry does not stabilize"},
		{[]string{"--protocol", "repair", "--stabilize", "0s"}, "--stabilize must be positive"},
	} {
		s := settings(t, tc.args...)
		if _, err := s.Config(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

func TestFlagNames(t *testing.T) {
	for name, flags := range map[string][]cli.Flag{"status": Status(), "kv": KV()} {
		var names []string
		for _, f := range flags {
			names = append(names, f.Names()...)
		}
		if got := strings.Join(names, " "); got != "json timeout secret-file" {
			t.Errorf("%s: flags %s", name, got)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // error; empty: none
	}{
		{[]string{"--id", "7", "--log-level", "debug"}, ""},
		{[]string{"--log-level", "loud"}, "--log-level: "},
		{[]string{"--bits", "0"}, "--bits"},
	} {
		var err error
		var cfg node.Config
		app := &cli.App{Flags: Node(), Writer: io.Discard, ErrWriter: io.Discard,
			Action: func(c *cli.Context) error { cfg, err = Config(c); return nil }}
		if e := app.Run(append([]string{"node"}, tc.args...)); e != nil {
			t.Fatal(e)
		}
		switch {
		case tc.want == "" && (err != nil || cfg.Logger == nil || cfg.ID != 7):
			t.Errorf("%v: got %+v, %v", tc.args, cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
