package main

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/replay"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/stress"
)

// parseRunFlags reads a configuration from run flags the way dhtexp run and replay do.
func parseRunFlags(t *testing.T, args []string) sim.Config {
	t.Helper()
	var cfg sim.Config
	app := &cli.App{Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{{
		Name: "parse", Flags: simFlags(),
		Action: func(c *cli.Context) (err error) {
			cfg, err = configFromFlags(c)
			return err
		},
	}}}
	if err := app.Run(append([]string{"dhtexp", "parse"}, args...)); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return cfg
}

// TestStressFailureReplays: the first failure of a swarm of the seed variant prints a
// replay command whose flags give back the drawn configuration, field for field, and
// whose replay ends with the same outcome.
func TestStressFailureReplays(t *testing.T) {
	code, out, errOut := runCLI(t, "stress", "--protocol", "seed", "--seeds", "300", "--first-seed", "5", "--max-failures", "1")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d: %s", code, exitFailure, errOut)
	}
	m := regexp.MustCompile(`(?m)^failure 1: seed (\d+): outcome (\S+): .*\n  dhtexp replay (.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no failure printed:\n%s", out)
	}
	seed, _ := strconv.ParseUint(m[1], 10, 64)
	args := strings.Fields(m[3])
	b := stress.DefaultBounds("seed")
	b.MaxLeavers = 0
	drawn := stress.Draw(b, seed)
	if got := parseRunFlags(t, args); got != drawn {
		t.Fatalf("replay flags give\n%+v\ndrawn\n%+v", got, drawn)
	}
	res, err := sim.Run(drawn, nil)
	if err != nil || res.Outcome != m[2] {
		t.Fatalf("rerun: outcome %v (err %v), printed %s", res, err, m[2])
	}
	code, rep, errOut := runCLI(t, append([]string{"replay", "--color", "never"}, args...)...)
	if code != 0 || !strings.Contains(rep, "outcome: "+m[2]) {
		t.Fatalf("replay: exit %d, stderr %s, output lacks outcome %s:\n%s", code, errOut, m[2], rep)
	}
}

// TestDrawnConfigsRoundTrip: every configuration a swarm draws, faults included, survives
// its replay flags unchanged.
func TestDrawnConfigsRoundTrip(t *testing.T) {
	for _, b := range []stress.Bounds{
		stress.DefaultBounds("predlock"),
		{Protocol: "predlock-retry", MaxNodes: 12, MaxJoiners: 12, MaxLeavers: 3, MaxDelay: 20_000_000, Faults: true},
		{Protocol: "seed", MaxNodes: 3, MaxJoiners: 40, MaxDelay: 1, Faults: true},
	} {
		for seed := uint64(1); seed <= 300; seed++ {
			want := stress.Draw(b, seed)
			if got := parseRunFlags(t, replay.Args(want)); got != want {
				t.Fatalf("%+v seed %d: flags %v give\n%+v\nwant\n%+v", b, seed, replay.Args(want), got, want)
			}
		}
	}
}

// TestStressExitCodes: a kept promise exits 0, bad bounds or flags 2.
func TestStressExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--seeds", "50"}, 0, "50 kept the promise"},
		{[]string{"--seeds", "50", "--shard", "1/3"}, 0, "17 runs"},
		{[]string{"--protocol", "nope"}, exitBadInput, "protocol"},
		{[]string{"--protocol", "seed", "--max-leavers", "2"}, exitBadInput, "max-leavers"},
		{[]string{"--max-nodes", "0"}, exitBadInput, "max-nodes"},
		{[]string{"--seeds", "0"}, exitBadInput, "--seeds"},
		{[]string{"--shard", "3/3"}, exitBadInput, "--shard"},
		{[]string{"extra"}, exitBadInput, "no arguments"},
	} {
		code, out, errOut := runCLI(t, append([]string{"stress"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%v: exit %d, want %d naming %q:\n%s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
}
