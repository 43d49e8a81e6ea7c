package exploreflag

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/explore"
	"github.com/dhtexp/dhtexp/protocol"
)

func config(args ...string) (cfg explore.Config, err error) {
	app := &cli.App{Flags: Flags(), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(c *cli.Context) error { cfg, err = Config(c); return nil }}
	if e := app.Run(append([]string{"explore"}, args...)); e != nil {
		return cfg, e
	}
	return cfg, err
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want explore.Config
	}{
		{nil, explore.Config{Protocol: "seed", Bits: 6, Members: []protocol.ID{1, 49, 50}, Joiners: []protocol.ID{2, 3},
			AllContacts: true, MaxStates: 5_000_000, Search: explore.SearchBFS, Workers: 1}},
		{[]string{"--protocol", "predlock", "--bits", "3", "--members", "0,3,6", "--joiners", "1,2,7", "--fixed-contacts", "--lossy"},
			explore.Config{Protocol: "predlock", Bits: 3, Members: []protocol.ID{0, 3, 6}, Joiners: []protocol.ID{1, 2, 7},
				MaxStates: 5_000_000, Lossy: true, Search: explore.SearchBFS, Workers: 1}},
		{[]string{"--protocol", "predlock-retry", "--members", "0", "--joiners", "3,5", "--bits", "3", "--timers", "--lossy",
			"--retries", "1", "--search", "dfs", "--max-states", "0"},
			explore.Config{Protocol: "predlock-retry", Bits: 3, Members: []protocol.ID{0}, Joiners: []protocol.ID{3, 5},
				AllContacts: true, Timers: true, Lossy: true, Retries: 1, Search: explore.SearchDFS, Workers: 1}},
		{[]string{"--protocol", "predlock-retry", "--timers", "--renumber-counters"},
			explore.Config{Protocol: "predlock-retry", Bits: 6, Members: []protocol.ID{1, 49, 50}, Joiners: []protocol.ID{2, 3},
				AllContacts: true, MaxStates: 5_000_000, Timers: true, Search: explore.SearchBFS, RenumberCounters: true, Workers: 1}},
		{[]string{"--protocol", "predlock-retry", "--prune-ignored"},
			explore.Config{Protocol: "predlock-retry", Bits: 6, Members: []protocol.ID{1, 49, 50}, Joiners: []protocol.ID{2, 3},
				AllContacts: true, MaxStates: 5_000_000, Search: explore.SearchBFS, PruneIgnored: true, Workers: 1}},
		{[]string{"--protocol", "predlock-retry", "--lossy", "--search", "dfs", "--subsume"},
			explore.Config{Protocol: "predlock-retry", Bits: 6, Members: []protocol.ID{1, 49, 50}, Joiners: []protocol.ID{2, 3},
				AllContacts: true, MaxStates: 5_000_000, Lossy: true, Search: explore.SearchDFS, Subsume: true, Workers: 1}},
		{[]string{"--protocol", "predlock-retry", "--lossy", "--search", "dfs", "--subsume", "--workers", "2"},
			explore.Config{Protocol: "predlock-retry", Bits: 6, Members: []protocol.ID{1, 49, 50}, Joiners: []protocol.ID{2, 3},
				AllContacts: true, MaxStates: 5_000_000, Lossy: true, Search: explore.SearchDFS, Subsume: true, Workers: 2}},
	} {
		if got, err := config(tc.args...); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

func TestBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--members", "1,x"}, "--members: "},
		{[]string{"--joiners", "2,a"}, "--joiners: "},
		{[]string{"--joiners", ""}, "joiners can be explored"},
		{[]string{"--protocol", "nope"}, "nope"},
		{[]string{"--search", "random"}, "search order"},
		{[]string{"--protocol", "repair", "--prune-ignored"}, "pruning ignored messages: protocol repair names no message"},
		{[]string{"--protocol", "predlock-retry", "--subsume", "--search", "dfs"}, "subsuming states needs --lossy"},
		{[]string{"--protocol", "predlock-retry", "--subsume", "--lossy"}, "and --search dfs"},
		{[]string{"--protocol", "predlock-retry", "--workers", "2"}, "more than one worker needs --subsume"},
		{[]string{"--protocol", "predlock-retry", "--lossy", "--search", "dfs", "--subsume", "--workers", "-1"}, "workers: -1"},
	} {
		if _, err := config(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
