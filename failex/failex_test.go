package failex

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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

// sweep runs the spec into a fresh folder.
func sweep(t *testing.T) string {
	t.Helper()
	sp, err := runner.Parse("failex.toml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "results")
	if _, err := runner.Sweep(context.Background(), sp, runner.Options{Dir: dir, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func summary(t *testing.T, dir string) *analysis.Summary {
	t.Helper()
	rs, err := analysis.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := analysis.Analyze(rs, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFill sweeps a small spec whose seed variant fails, and replays the
// example of each failure class: the replay must end the same way, and its
// diagram must name the outcome.
func TestFill(t *testing.T) {
	dir := sweep(t)
	s := summary(t, dir)
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

// TestReportByteStable: two reports of one result set, diagrams included,
// are the same files byte for byte.
func TestReportByteStable(t *testing.T) {
	dir := sweep(t)
	var outs []string
	for range 2 {
		s := summary(t, dir)
		Fill(dir, s)
		out := filepath.Join(t.TempDir(), "report")
		if err := analysis.WriteReport(out, s); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	var files []string
	err := filepath.WalkDir(outs[0], func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(outs[0], path)
		files = append(files, rel)
		a, _ := os.ReadFile(path)
		b, err := os.ReadFile(filepath.Join(outs[1], rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two reports (%v)", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(filepath.Base(f), "example_") }) {
		t.Errorf("no example diagram among %v", files)
	}
}
