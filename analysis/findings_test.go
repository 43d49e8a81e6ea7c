package analysis

import (
	"bytes"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/analysis/analysistest"
)

// TestFindings: the opening sentences carry the numbers, and a protocol
// without failures is reported with its bound, not as "100 %".
func TestFindings(t *testing.T) {
	s := analyze(t, writeSet(t, smallSet()), Options{})
	got := strings.Join(Findings(s), "\n")
	for _, want := range []string{
		// seed: 4 joiners and 16 joiners lose replica 3; 16 also replica 2.
		"seed: 3 of 12 runs failed (25 %, 95 % Wilson interval",
		// locked never fails: 12 runs, 1-0.05^(1/12) = 22 %.
		"locked: 0 of 12 runs failed; 95 % upper bound on the failure rate 22 % (exact one-sided Clopper–Pearson).",
		"locked against seed, messages per join:",
		"locked against seed, median latency of successful joins:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q:\n%s", want, got)
		}
	}
}

func TestPct(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0 %"},
		{8.321e-5, "0.0083 %"},
		{0.0042, "0.42 %"},
		{0.0123, "1.2 %"},
		{0.5, "50 %"},
	}
	for _, tt := range tests {
		if got := pct(tt.v); got != tt.want {
			t.Errorf("pct(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestGroupInt(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 36000: "36,000", 1234567: "1,234,567", -4000: "-4,000"} {
		if got := groupInt(n); got != want {
			t.Errorf("groupInt(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestOmitEmptyFigures: figures without data are left out with a sentence
// saying so.
func TestOmitEmptyFigures(t *testing.T) {
	noJoins := smallSet()
	run := noJoins.Run
	noJoins.Run = func(point, replica int) analysistest.Run {
		r := run(point, replica)
		r.Joins, r.Outcome = nil, ""
		return r
	}
	tests := []struct {
		name      string
		set       *analysistest.Set
		figs      []string
		noteParts []string
	}{
		{"no joins", noJoins, []string{"run_success"}, []string{"No run had a joiner", "No run failed"}},
		{"no failures", randomSet(3, 20, func(int) float64 { return 0 }), []string{"run_success", "join_success", "latency_p50", "latency_p99", "latency_cdf", "messages_per_join"}, []string{"No run failed"}},
		{"failures in some panels", randomSet(3, 20, func(p int) float64 { return float64(p%2) / 4 }), []string{"run_success", "join_success", "latency_p50", "latency_p99", "latency_cdf", "messages_per_join", "failures"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := analyze(t, writeSet(t, tt.set), Options{})
			specs, notes := mainFigureSpecs(s)
			var names []string
			for _, sp := range specs {
				names = append(names, sp.name)
			}
			if !slices.Equal(names, tt.figs) {
				t.Errorf("figures %v, want %v", names, tt.figs)
			}
			all := strings.Join(notes, "\n")
			for _, n := range tt.noteParts {
				if !strings.Contains(all, n) {
					t.Errorf("notes lack %q: %v", n, notes)
				}
			}
		})
	}
}

// TestBootstrapIntervals: every point with joins from several runs gets
// intervals that hold its estimate, and the same set gives the same
// intervals.
func TestBootstrapIntervals(t *testing.T) {
	dir := writeSet(t, randomSet(5, 30, func(int) float64 { return 0.1 }))
	a, b := analyze(t, dir, Options{}), analyze(t, dir, Options{})
	for i, p := range a.Points {
		for _, c := range []struct {
			name string
			v    Num
			ci   Interval
		}{
			{"p50", p.LatencyP50, p.LatencyP50CI},
			{"p99", p.LatencyP99, p.LatencyP99CI},
			{"messages per join", p.MessagesPerJoin, p.MessagesPerJoinCI},
		} {
			if !c.ci.Known() || c.ci.Lo > c.v || c.v > c.ci.Hi || math.IsNaN(float64(c.v)) {
				t.Errorf("point %d %s: %v not in %v", i, c.name, c.v, c.ci)
			}
		}
		q := b.Points[i]
		if p.LatencyP50CI != q.LatencyP50CI || p.LatencyP99CI != q.LatencyP99CI || p.MessagesPerJoinCI != q.MessagesPerJoinCI {
			t.Errorf("point %d: intervals differ between two analyses", i)
		}
	}
}

// TestFailureExamples: one run per failure class, the one with the fewest
// events, in the order of the classes.
func TestFailureExamples(t *testing.T) {
	s := analyze(t, writeSet(t, smallSet()), Options{})
	var got []string
	for _, ex := range s.Examples {
		got = append(got, ex.Outcome+"/"+strconv.FormatInt(ex.RunID, 10))
	}
	// not_joined: replica 3 of seed with 4 joiners (point 1, 400 events)
	// beats 16 joiners; wrong_neighbours: replica 2 at 16 joiners (point 2).
	if want := []string{"wrong_neighbours/10", "not_joined/7"}; !slices.Equal(got, want) {
		t.Errorf("examples %v, want %v", got, want)
	}
}

// TestWriteReportByteStable: the same result set gives the same files,
// byte for byte, bootstrap intervals and all.
func TestWriteReportByteStable(t *testing.T) {
	for _, set := range []*analysistest.Set{smallSet(), randomSet(7, 25, func(p int) float64 { return float64(p%3) / 5 })} {
		dir := writeSet(t, set)
		var outs []string
		for range 2 {
			out := filepath.Join(t.TempDir(), "report")
			if err := WriteReport(out, analyze(t, dir, Options{})); err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out)
		}
		sameTree(t, outs[0], outs[1])
	}
}

// sameTree fails unless folders a and b hold the same files with the same
// bytes.
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		x, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two reports of the same result set", rel)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Errorf("only %d files compared", files)
	}
}
