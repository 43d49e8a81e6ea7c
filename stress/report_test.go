package stress

import (
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/replay"
)

// TestWriteText: outcomes print in name order, each failure with its replay command, and an
// interrupted swarm says how far it got.
func TestWriteText(t *testing.T) {
	c := Draw(DefaultBounds("seed"), 6)
	s := &Summary{Protocol: "seed", Want: 10, Runs: 4, Kept: 1, Interrupted: true, Elapsed: time.Second,
		Outcomes: map[string]int64{"ok": 1, "deadlock": 2, "crash": 1},
		Failures: []Failure{{Seed: 6, Config: c, Outcome: "deadlock", Why: "deadlock: stuck"}}}
	var b strings.Builder
	s.WriteText(&b)
	want := "stress seed: 4 runs in 1s (4 runs/s), 1 kept the promise, 3 failed\n" +
		"interrupted after 4 of 10 runs\n" +
		"outcomes: crash 1 deadlock 2 ok 1\n" +
		"failure 1: seed 6: outcome deadlock: deadlock: stuck\n" +
		"  dhtexp replay " + strings.Join(replay.Args(c), " ") + "\n" +
		"(2 more failures not printed; raise --max-failures to see them)\n"
	if b.String() != want {
		t.Fatalf("printed\n%s\nwant\n%s", b.String(), want)
	}
}
