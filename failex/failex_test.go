package failex

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/analysis"
	"github.com/dhtexp/dhtexp/runner"
)

const spec = `name = "failex"
seeds = 30
base_seed = 1
trace = "joins"

[base]
scenario = "random"
nodes = 8
timing = "async"
horizon = "10s"
timeout = "500ms"

[base.delay]
kind = "uniform"
min = "1ms"
max = "5ms"

[sweep]
protocol = ["seed"]
joiners = [2, 6]
`

// TestFill sweeps a small spec whose seed variant fails, and replays the
// example of each failure class: the replay must end the same way, and its
// diagram must name the outcome.
func TestFill(t *testing.T) {
	sp, err := runner.Parse("failex.toml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "results")
	if _, err := runner.Sweep(context.Background(), sp, runner.Options{Dir: dir, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	rs, err := analysis.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := analysis.Analyze(rs, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Examples) == 0 {
		t.Fatal("no failed run to replay; the spec no longer makes the seed variant fail")
	}
	Fill(dir, s)
	for _, ex := range s.Examples {
		if ex.Err != "" || ex.Replayed != ex.Outcome {
			t.Errorf("run %d (%s): replayed %q, err %q", ex.RunID, ex.Outcome, ex.Replayed, ex.Err)
		}
		if !strings.Contains(string(ex.SVG), "outcome: "+ex.Outcome) {
			t.Errorf("run %d: the diagram does not name its outcome", ex.RunID)
		}
	}
}
