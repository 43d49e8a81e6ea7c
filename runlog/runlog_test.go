package runlog

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/sim"
)

func simple(seed uint64) sim.Config {
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Seed = "simple", seed
	return cfg
}

func TestFormatTime(t *testing.T) {
	seed := sim.Config{Timing: "seed", Unit: int64(time.Millisecond)}
	async := sim.Config{Timing: "async"}
	for _, tc := range []struct {
		cfg  *sim.Config
		t    int64
		want string
	}{
		{&seed, 0, "0"},
		{&seed, 25 * int64(time.Millisecond), "25"},
		{&async, 1_500_000, "1.500ms"},
		{&async, 0, "0.000ms"},
	} {
		if got := formatTime(tc.cfg, tc.t); got != tc.want {
			t.Errorf("formatTime(%s, %d) = %q, want %q", tc.cfg.Timing, tc.t, got, tc.want)
		}
	}
}

func TestOne(t *testing.T) {
	for _, tc := range []struct {
		name  string
		color bool
		want  []string
	}{
		{"plain", false, []string{"scenario=simple protocol=", "final ring (left <- node -> right):", "\noutcome: ", "\njoins: 2/2 "}},
		{"colour", true, []string{"\x1b[1mscenario=simple", "\x1b[0m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := One(&buf, simple(7), tc.color); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if !tc.color && strings.Contains(out, "\x1b[") {
				t.Error("escape sequences without colour")
			}
		})
	}
	bad := simple(1)
	bad.Scenario = "nonesuch"
	if err := One(&bytes.Buffer{}, bad, false); err == nil {
		t.Error("a configuration the simulator refuses gave no error")
	}
}

// The summary is the same whatever the number of workers, but for the wall time.
func TestSummarize(t *testing.T) {
	one, two := Summarize(simple(1), 60, 1), Summarize(simple(1), 60, 2)
	one.Wall, two.Wall, one.Workers, two.Workers = 0, 0, 0, 0
	if !reflect.DeepEqual(one, two) {
		t.Errorf("1 worker %+v\n2 workers %+v", one, two)
	}
	n := 0
	for _, k := range one.Outcomes {
		n += k
	}
	if n != 60 || one.OK != one.Outcomes["ok"] || one.Joins != 120 || one.JoinsOK != len(one.Latencies) {
		t.Errorf("inconsistent summary %+v", one)
	}
	var buf bytes.Buffer
	one.Print(&buf, false)
	lines := strings.Split(buf.String(), "\n")
	for i, prefix := range []string{"60 runs of scenario=simple", "  run success (outcome ok):  ", "  correct final ring:        ", "  join success:              ", "  outcomes:"} {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d %q, want prefix %q", i, lines[i], prefix)
		}
	}
}
